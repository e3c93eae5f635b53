// Remote LUNs of iSCSI sessions placed on vscsi target/LUN slots, and the
// REPORT LUNS rewriting that keeps the midlayer's view consistent. I/O-free.
//
// Each session gets whole vscsi targets of its own: its remote LUNs fill
// LUNs 0..luns_per_target-1 of the first free target in the order given, and
// spill onto further free targets. A REPORT LUNS answer of the remote target
// is rewritten to the local LUNs of one vscsi target (SPC-4 §6.33).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>
#include <vector>

namespace ivs::iscsi {
class session;
}

namespace ivs::bridge {

struct slot {
    int target = 0;
    int lun = 0;
    friend bool operator==(const slot&, const slot&) = default;
};

struct lun_geometry {
    int targets = 256;       // vscsi targets 0..targets-1
    int luns_per_target = 8; // LUNs 0..luns_per_target-1 on each
};

class lun_map {
public:
    // The owner of a mapping: the session its LUNs are reached through;
    // never dereferenced here.
    using owner_id = iscsi::session*;

    struct mapping {
        owner_id owner = nullptr;
        std::uint64_t remote_lun = 0;
    };

    explicit lun_map(lun_geometry geometry = {});

    [[nodiscard]] const lun_geometry& geometry() const noexcept { return geo_; }

    // Places `remote_luns` (duplicates are placed once) on free targets.
    // std::errc::no_space_on_device when too few targets are free (nothing is
    // placed); std::errc::invalid_argument for a null owner or an owner
    // already mapped. `out` gets one slot per distinct remote LUN, in order.
    std::error_code add(owner_id owner, std::span<const std::uint64_t> remote_luns, std::vector<slot>& out);
    // Frees every slot of `owner`; returns them.
    std::vector<slot> remove(owner_id owner);
    // More LUNs for `owner` (a rescan found them): free LUNs of the targets
    // it holds alone first, then whole free targets. LUNs it has already
    // and duplicates are skipped; `out` gets one slot per LUN placed, in
    // order. std::errc::no_space_on_device when they do not all fit (nothing
    // is placed); invalid_argument for a null owner.
    std::error_code add_more(owner_id owner, std::span<const std::uint64_t> remote_luns, std::vector<slot>& out);
    // Frees the slots of these remote LUNs of `owner`; returns them.
    std::vector<slot> remove_luns(owner_id owner, std::span<const std::uint64_t> remote_luns);

    // The remote LUN at a slot, or nullopt (out of range or unmapped).
    [[nodiscard]] std::optional<mapping> at(int target, int lun) const noexcept;
    // Any mapping on the target (its lowest mapped LUN): where a REPORT LUNS
    // for the whole vscsi target is sent.
    [[nodiscard]] std::optional<mapping> first_on_target(int target) const noexcept;
    // The slot of a remote LUN of `owner`.
    [[nodiscard]] std::optional<slot> find(owner_id owner, std::uint64_t remote_lun) const noexcept;
    // Every slot of `owner` (all owners when null), target-major.
    [[nodiscard]] std::vector<std::pair<slot, mapping>> slots(owner_id owner = nullptr) const;

    // REPORT LUNS parameter data for vscsi target `target`: from the remote
    // target's answer `remote` (8-byte header, then 8-byte LUN entries), the
    // local LUNs of this target whose remote LUN is listed, in local order,
    // in peripheral device addressing. The LUN LIST LENGTH counts them all;
    // `out` holds at most `allocation_length` bytes (SPC-4 §4.2.5.6). Remote
    // entries that cannot be decoded are skipped; a list length beyond the
    // data given counts only the entries present.
    void rewrite_report_luns(int target, std::span<const std::byte> remote, std::size_t allocation_length,
                             std::vector<std::byte>& out) const;

private:
    struct entry {
        owner_id owner = nullptr;
        std::uint64_t remote_lun = 0;
        bool used = false;
    };
    [[nodiscard]] bool target_free(int target) const noexcept;
    [[nodiscard]] std::size_t index(int target, int lun) const noexcept
    {
        return static_cast<std::size_t>(target) * static_cast<std::size_t>(geo_.luns_per_target) +
               static_cast<std::size_t>(lun);
    }

    lun_geometry geo_;
    std::vector<entry> table_; // targets * luns_per_target
};

} // namespace ivs::bridge
