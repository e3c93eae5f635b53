// Initiator Task Tags (RFC 7143 §11.2.1.8): a slot array indexed by the low
// 16 bits of the ITT, the high 16 bits a generation so a stale tag never
// matches a reused slot. Lookup is O(1); no linear search on the hot path.
#pragma once

#include "pdu/opcode.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace ivs::iscsi {

template <class Task>
class task_table {
public:
    explicit task_table(std::uint16_t capacity) : capacity_(capacity) {}

    // A free task with a fresh tag in task->itt, or nullptr when all are busy.
    Task* allocate()
    {
        std::uint16_t index;
        if (!free_.empty()) {
            index = free_.back();
            free_.pop_back();
        } else if (slots_.size() < capacity_) {
            index = static_cast<std::uint16_t>(slots_.size());
            slots_.push_back(std::make_unique<Task>());
            generations_.push_back(0);
        } else {
            return nullptr;
        }
        auto gen = static_cast<std::uint16_t>(generations_[index] + 1);
        if (gen == 0xffff)
            gen = 0; // 0xffff'ffff is the reserved tag
        generations_[index] = gen;
        Task* t = slots_[index].get();
        *t = Task{};
        t->itt = (std::uint32_t{gen} << 16) | index;
        t->in_use = true;
        ++in_use_;
        return t;
    }

    Task* find(std::uint32_t itt) noexcept
    {
        const std::uint32_t index = itt & 0xffff;
        if (itt == pdu::reserved_tag || index >= slots_.size())
            return nullptr;
        Task* t = slots_[index].get();
        return t->in_use && t->itt == itt ? t : nullptr;
    }

    void release(Task* t)
    {
        t->in_use = false;
        --in_use_;
        free_.push_back(static_cast<std::uint16_t>(t->itt & 0xffff));
    }

    std::size_t in_use() const noexcept { return in_use_; }

    // Calls f(task) for every task in use (not for the hot path).
    template <class F>
    void for_each(F&& f)
    {
        for (auto& slot : slots_)
            if (slot->in_use)
                f(*slot);
    }

private:
    std::uint16_t capacity_;
    std::vector<std::unique_ptr<Task>> slots_;
    std::vector<std::uint16_t> generations_;
    std::vector<std::uint16_t> free_;
    std::size_t in_use_ = 0;
};

} // namespace ivs::iscsi
