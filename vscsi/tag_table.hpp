// Live vscsi tags -> per-command contexts: an open-addressing hash table
// (linear probing, backward-shift deletion) that allocates only when it
// grows, so the hot path does no heap allocation after warm-up. I/O-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ivs::vscsi {

template <class T>
class tag_table {
public:
    tag_table() { slots_.resize(64); }

    // False when the tag is already present (nothing changes).
    bool insert(int tag, T* value)
    {
        if ((size_ + 1) * 2 > slots_.size())
            grow();
        std::size_t i = home(tag);
        while (slots_[i].value) {
            if (slots_[i].tag == tag)
                return false;
            i = next(i);
        }
        slots_[i] = {tag, value};
        ++size_;
        return true;
    }

    [[nodiscard]] T* find(int tag) const noexcept
    {
        for (std::size_t i = home(tag); slots_[i].value; i = next(i))
            if (slots_[i].tag == tag)
                return slots_[i].value;
        return nullptr;
    }

    bool erase(int tag) noexcept
    {
        std::size_t i = home(tag);
        while (slots_[i].value && slots_[i].tag != tag)
            i = next(i);
        if (!slots_[i].value)
            return false;
        // Backward shift: pull later members of the probe run into the hole.
        std::size_t hole = i;
        for (std::size_t j = next(i); slots_[j].value; j = next(j)) {
            const std::size_t h = home(slots_[j].tag);
            // j's home lies cyclically outside (hole, j]: it may move to hole.
            const bool movable = hole <= j ? (h <= hole || h > j) : (h <= hole && h > j);
            if (movable) {
                slots_[hole] = slots_[j];
                hole = j;
            }
        }
        slots_[hole] = {};
        --size_;
        return true;
    }

    [[nodiscard]] std::size_t size() const noexcept { return size_; }

    template <class F>
    void for_each(F&& f) const
    {
        for (const auto& s : slots_)
            if (s.value)
                f(s.tag, s.value);
    }

private:
    struct entry {
        int tag = 0;
        T* value = nullptr;
    };
    [[nodiscard]] std::size_t home(int tag) const noexcept
    {
        // Fibonacci hashing of the tag bits; tags come from a counter.
        const auto h = static_cast<std::uint32_t>(tag) * 0x9e3779b9u;
        return static_cast<std::size_t>(h) & (slots_.size() - 1);
    }
    [[nodiscard]] std::size_t next(std::size_t i) const noexcept { return (i + 1) & (slots_.size() - 1); }
    void grow()
    {
        std::vector<entry> old(slots_.size() * 2);
        old.swap(slots_);
        size_ = 0;
        for (const auto& e : old)
            if (e.value)
                insert(e.tag, e.value);
    }

    std::vector<entry> slots_;
    std::size_t size_ = 0;
};

} // namespace ivs::vscsi
