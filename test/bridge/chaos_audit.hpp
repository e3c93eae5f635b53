// A vscsi_device that forwards to the embedded one and audits the daemon's
// use of it: every dequeued tag gets exactly one T2I, and no data moves for
// a tag that is not in progress (never dequeued, or answered already).
#pragma once

#include "vscsi/direct_access.hpp"
#include "vscsi/vscsi_device.hpp"

#include <map>
#include <string>
#include <vector>

namespace ivs::test::chaos {

class audit_device final : public vscsi::vscsi_device, public vscsi::direct_access {
public:
    explicit audit_device(vscsi::vscsi_device& real) : real_(real) {}

    struct problem {
        std::string symptom; // "double-t2i", "device-misuse"
        std::string detail;
    };
    const std::vector<problem>& problems() const noexcept { return problems_; }
    // Tags dequeued and not answered yet.
    std::vector<int> unanswered() const
    {
        std::vector<int> out;
        for (const auto& [tag, s] : tags_)
            if (s == state::live)
                out.push_back(tag);
        return out;
    }
    std::size_t dequeued() const noexcept { return tags_.size(); }

    int readiness_fd() const override { return real_.readiness_fd(); }
    std::error_code i2t(vscsi::vscsi_i2t& out) override
    {
        const auto ec = real_.i2t(out);
        if (!ec) {
            auto [it, fresh] = tags_.emplace(out.tag, state::live);
            if (!fresh && it->second == state::live)
                note("device-misuse", "I2T returned tag " + std::to_string(out.tag) + " while it was in progress");
            it->second = state::live;
        }
        return ec;
    }
    std::error_code data_read(int tag, std::span<const std::byte> d) override
    {
        check_live(tag, "DATA_READ");
        return real_.data_read(tag, d);
    }
    std::error_code data_write(int tag, std::span<std::byte> d) override
    {
        check_live(tag, "DATA_WRITE");
        return real_.data_write(tag, d);
    }
    std::error_code t2i(int tag, vscsi::vscsi_status st, const scsi::fixed_sense& s) override
    {
        answered(tag);
        return real_.t2i(tag, st, s);
    }
    using vscsi_device::t2i;
    std::error_code request_probe(int t, int l) override { return real_.request_probe(t, l); }
    std::error_code request_detach(int t, int l) override { return real_.request_detach(t, l); }
    vscsi::direct_access* direct() noexcept override { return real_.direct() ? this : nullptr; }

    // vscsi::direct_access, audited the same way
    std::span<std::byte> data_read_buffer(int tag) override
    {
        check_live(tag, "data_read_buffer");
        return real_.direct()->data_read_buffer(tag);
    }
    std::error_code data_read_placed(int tag, std::size_t n) override
    {
        check_live(tag, "data_read_placed");
        return real_.direct()->data_read_placed(tag, n);
    }
    std::span<const std::byte> data_write_buffer(int tag) override
    {
        check_live(tag, "data_write_buffer");
        return real_.direct()->data_write_buffer(tag);
    }
    std::error_code data_write_taken(int tag, std::size_t n) override
    {
        check_live(tag, "data_write_taken");
        return real_.direct()->data_write_taken(tag, n);
    }
    std::error_code t2i_then_dequeue(int tag, vscsi::vscsi_status st, const scsi::fixed_sense& s) override
    {
        answered(tag);
        return real_.direct()->t2i_then_dequeue(tag, st, s);
    }

private:
    enum class state { live, answered };

    void note(const char* symptom, std::string detail) { problems_.push_back({symptom, std::move(detail)}); }
    void check_live(int tag, const char* call)
    {
        const auto it = tags_.find(tag);
        if (it == tags_.end())
            note("device-misuse", std::string(call) + " for tag " + std::to_string(tag) + ", never dequeued");
        else if (it->second == state::answered)
            note("device-misuse", std::string(call) + " for tag " + std::to_string(tag) + " after its T2I");
    }
    void answered(int tag)
    {
        const auto it = tags_.find(tag);
        if (it == tags_.end())
            note("double-t2i", "T2I for tag " + std::to_string(tag) + ", never dequeued");
        else if (it->second == state::answered)
            note("double-t2i", "a second T2I for tag " + std::to_string(tag));
        else
            it->second = state::answered;
    }

    vscsi::vscsi_device& real_;
    std::map<int, state> tags_;
    std::vector<problem> problems_;
};

} // namespace ivs::test::chaos
