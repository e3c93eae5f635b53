// The embedded vscsi: command queue, tags, data movement and completion of
// OpenBSD's sys/dev/vscsi.c, in userland (see docs/vscsi-contract.md).
#include "vscsi/embedded_vscsi.hpp"
#include "vscsi/embedded_ccb.hpp"

#include "vscsi/direct_access.hpp"
#include "vscsi/readiness_signal.hpp"

#include <algorithm>
#include <cstring>
#include <future>
#include <stdexcept>

namespace ivs::vscsi {

// The daemon's handle: the one opener; its destruction is the last close.
// The midlayer runs in this process, so it offers direct access too.
class embedded_vscsi::handle final : public vscsi_device, public direct_access {
public:
    explicit handle(embedded_vscsi& dev) : dev_(dev) {}
    ~handle() override { dev_.do_close(); }

    [[nodiscard]] int readiness_fd() const override { return dev_.ready_->fd(); }
    std::error_code i2t(vscsi_i2t& out) override { return dev_.do_i2t(out); }
    std::error_code data_read(int tag, std::span<const std::byte> data) override
    {
        return dev_.do_data(tag, vscsi_dir::read, nullptr, data.data(), data.size());
    }
    std::error_code data_write(int tag, std::span<std::byte> data) override
    {
        return dev_.do_data(tag, vscsi_dir::write, data.data(), nullptr, data.size());
    }
    std::error_code t2i(int tag, vscsi_status status, const scsi::fixed_sense& sense) override
    {
        return dev_.do_t2i(tag, status, sense, false);
    }
    using vscsi_device::t2i;
    std::error_code request_probe(int target, int lun) override { return dev_.do_devevent(true, target, lun); }
    std::error_code request_detach(int target, int lun) override { return dev_.do_devevent(false, target, lun); }
    direct_access* direct() noexcept override { return this; }

    // direct_access
    std::span<std::byte> data_read_buffer(int tag) override { return dev_.do_data_read_buffer(tag); }
    std::error_code data_read_placed(int tag, std::size_t n) override
    {
        return dev_.do_data(tag, vscsi_dir::read, nullptr, nullptr, n);
    }
    std::span<const std::byte> data_write_buffer(int tag) override { return dev_.do_data_write_buffer(tag); }
    std::error_code data_write_taken(int tag, std::size_t n) override
    {
        return dev_.do_data(tag, vscsi_dir::write, nullptr, nullptr, n);
    }
    std::error_code t2i_then_dequeue(int tag, vscsi_status status, const scsi::fixed_sense& sense) override
    {
        return dev_.do_t2i(tag, status, sense, true);
    }

private:
    embedded_vscsi& dev_;
};

embedded_vscsi::embedded_vscsi(embedded_vscsi_config config)
    : config_(std::move(config)), ready_(std::make_unique<readiness_signal>()),
      tag_counter_(static_cast<unsigned>(config_.first_tag))
{
    if (config_.targets < 1 || config_.targets > 65536 || config_.luns < 1 || config_.luns > 65536 ||
        config_.openings < 1 || config_.max_transfer < 1)
        throw std::invalid_argument("embedded_vscsi: bad geometry");
    luns_.resize(static_cast<std::size_t>(config_.targets) * static_cast<std::size_t>(config_.luns));
    worker_ = std::thread([this] { probe_worker(); });
    retry_timer_ = std::thread([this] { retry_timer(); });
}

embedded_vscsi::~embedded_vscsi()
{
    {
        std::lock_guard lk(m_);
        stopping_ = true;
    }
    events_cv_.notify_all();
    retry_cv_.notify_all();
    worker_.join();
    retry_timer_.join();
}

std::error_code embedded_vscsi::open(std::unique_ptr<vscsi_device>& out)
{
    std::lock_guard lk(m_);
    if (open_)
        return std::make_error_code(std::errc::device_or_resource_busy);
    open_ = true;
    out = std::make_unique<handle>(*this);
    return {};
}

// ---- midlayer side --------------------------------------------------------

std::error_code embedded_vscsi::check(const scsi_command& cmd) const
{
    const auto einval = std::make_error_code(std::errc::invalid_argument);
    if (cmd.target < 0 || cmd.target >= config_.targets || cmd.lun < 0 || cmd.lun >= config_.luns)
        return einval;
    if (cmd.cdblen < 1 || cmd.cdblen > vscsi_max_cdb)
        return einval;
    if ((cmd.dir != vscsi_dir::read && !cmd.data_in.empty()) || (cmd.dir != vscsi_dir::write && !cmd.data_out.empty()))
        return einval;
    if (cmd.datalen() > config_.max_transfer)
        return std::make_error_code(std::errc::message_size);
    return {};
}

embedded_vscsi::lun_state& embedded_vscsi::lun_of(const ccb& c)
{
    return luns_[static_cast<std::size_t>(c.cmd.target) * static_cast<std::size_t>(config_.luns) +
                 static_cast<std::size_t>(c.cmd.lun)];
}

int embedded_vscsi::next_tag_locked()
{
    // A counter that only grows and wraps; a tag still live is skipped.
    for (;;) {
        const int tag = static_cast<int>(tag_counter_++);
        if (live_.find(tag) == nullptr)
            return tag;
    }
}

void embedded_vscsi::enqueue_locked(ccb_ptr c)
{
    c->tag = next_tag_locked();
    c->dequeued = false;
    c->moved = 0;
    live_.insert(c->tag, c);
    waiting_.push_back(c);
}

namespace {
// The device whose t2i_then_dequeue runs on this thread (the daemon's): what
// this thread queues meanwhile leaves that device's readiness fd alone.
thread_local const embedded_vscsi* quiet_device = nullptr;
} // namespace

bool embedded_vscsi::update_readiness_locked()
{
    if (waiting_.empty()) {
        ready_->clear();
        return false;
    }
    if (quiet_device != this)
        return ready_->arm();
    // else: queued by the daemon's thread inside t2i_then_dequeue; the
    // daemon dequeues it before it polls again
    return false;
}

std::error_code embedded_vscsi::submit(const scsi_command& cmd, scsi_completion_handler done)
{
    if (auto ec = check(cmd))
        return ec;
    bool notify = false;
    {
        std::lock_guard lk(m_);
        if (!open_)
            return std::make_error_code(std::errc::no_such_device_or_address);
        if (free_ccbs_.empty()) {
            ccbs_.push_back(std::make_unique<ccb>());
            free_ccbs_.push_back(ccbs_.back().get());
        }
        ccb_ptr c = free_ccbs_.back();
        free_ccbs_.pop_back();
        c->cmd = cmd;
        c->cmd.retries = std::max(0, cmd.retries);
        c->retries_left = c->cmd.retries;
        c->done = std::move(done);
        c->dequeued = false;
        c->moved = 0;
        lun_state& ls = lun_of(*c);
        if (ls.active < config_.openings) {
            ++ls.active;
            enqueue_locked(c);
            notify = update_readiness_locked();
        } else {
            ls.pending.push_back(c); // waits for a free opening
        }
    }
    if (notify)
        ready_->notify();
    return {};
}

std::error_code embedded_vscsi::execute(const scsi_command& cmd, scsi_completion& out)
{
    auto result = std::make_shared<std::promise<scsi_completion>>();
    auto fut = result->get_future();
    if (auto ec = submit(cmd, [result](const scsi_completion& c) { result->set_value(c); }))
        return ec;
    out = fut.get();
    return {};
}

void embedded_vscsi::finish_locked(ccb_ptr c)
{
    // Frees the opening; the oldest command waiting for one gets it.
    live_.erase(c->tag);
    lun_state& ls = lun_of(*c);
    c->done = nullptr;
    free_ccbs_.push_back(c);
    --ls.active;
    while (ls.active < config_.openings && !ls.pending.empty() && open_) {
        ccb_ptr next = ls.pending.front();
        ls.pending.pop_front();
        ++ls.active;
        enqueue_locked(next);
    }
}

void embedded_vscsi::run_completions(completion_list& done)
{
    for (auto& [handler, comp] : done)
        if (handler)
            handler(comp);
}

// ---- daemon side ----------------------------------------------------------

std::error_code embedded_vscsi::do_i2t(vscsi_i2t& out)
{
    bool notify = false;
    {
        std::lock_guard lk(m_);
        if (waiting_.empty())
            return std::make_error_code(std::errc::resource_unavailable_try_again);
        ccb_ptr c = waiting_.front();
        waiting_.pop_front();
        c->dequeued = true;
        out = vscsi_i2t{};
        out.tag = c->tag;
        out.target = c->cmd.target;
        out.lun = c->cmd.lun;
        std::copy_n(c->cmd.cdb.begin(), c->cmd.cdblen, out.cmd.begin());
        out.cmdlen = c->cmd.cdblen;
        out.datalen = c->cmd.datalen();
        out.direction = c->cmd.dir;
        notify = update_readiness_locked();
    }
    if (notify)
        ready_->notify();
    return {};
}

// A dequeued command going `dir`, or nullptr. Call with m_ held.
embedded_vscsi::ccb* embedded_vscsi::dequeued_locked(int tag, vscsi_dir dir)
{
    ccb* c = live_.find(tag);
    return c != nullptr && c->dequeued && c->cmd.dir == dir ? c : nullptr;
}

// The midlayer's buffers of a dequeued command: its until the completion.
std::span<std::byte> embedded_vscsi::do_data_read_buffer(int tag)
{
    std::lock_guard lk(m_);
    const ccb* c = dequeued_locked(tag, vscsi_dir::read);
    return c ? c->cmd.data_in : std::span<std::byte>{};
}

std::span<const std::byte> embedded_vscsi::do_data_write_buffer(int tag)
{
    std::lock_guard lk(m_);
    const ccb* c = dequeued_locked(tag, vscsi_dir::write);
    return c ? c->cmd.data_out : std::span<const std::byte>{};
}

std::error_code embedded_vscsi::do_data(int tag, vscsi_dir dir, std::byte* in, const std::byte* out, std::size_t len)
{
    std::lock_guard lk(m_);
    ccb* found = live_.find(tag);
    if (found == nullptr || !found->dequeued)
        return std::make_error_code(std::errc::bad_address); // EFAULT
    ccb& c = *found;
    // Direction before size, so a command without data is always EINVAL.
    if (c.cmd.dir != dir)
        return std::make_error_code(std::errc::invalid_argument); // EINVAL
    const std::size_t datalen = c.cmd.datalen();
    if (len > datalen - c.moved)
        return std::make_error_code(std::errc::not_enough_memory); // ENOMEM
    if (len == 0)
        return {};
    if (dir == vscsi_dir::read && out != nullptr) // the daemon supplies a SCSI READ's data
        std::memcpy(c.cmd.data_in.data() + c.moved, out, len);
    else if (dir == vscsi_dir::write && in != nullptr) // the daemon fetches a SCSI WRITE's data
        std::memcpy(in, c.cmd.data_out.data() + c.moved, len);
    // else data_read_placed / data_write_taken: the daemon used the
    // midlayer's buffer itself
    c.moved += len;
    return {};
}

std::error_code embedded_vscsi::do_t2i(int tag, vscsi_status status, const scsi::fixed_sense& sense,
                                       bool daemon_dequeues)
{
    // One completion, run after the lock is dropped (no list: no allocation).
    scsi_completion_handler handler;
    scsi_completion comp;
    // daemon_dequeues: until the completion has run, what this thread queues
    // leaves the readiness fd alone (update_readiness_locked).
    struct quiet_scope {
        const embedded_vscsi* previous = quiet_device;
        explicit quiet_scope(const embedded_vscsi* d) { quiet_device = d; }
        ~quiet_scope() { quiet_device = previous; }
        quiet_scope(const quiet_scope&) = delete;
        quiet_scope& operator=(const quiet_scope&) = delete;
    } quiet(daemon_dequeues ? this : quiet_device);
    bool notify = false;
    bool retried = false;
    {
        std::lock_guard lk(m_);
        ccb_ptr c = live_.find(tag);
        if (c == nullptr || !c->dequeued)
            return std::make_error_code(std::errc::bad_address); // EFAULT
        switch (status) {
        case vscsi_status::done:
        case vscsi_status::sense:
        case vscsi_status::reset: comp.status = status; break;
        default:
            comp.status = vscsi_status::err; // any other value: EIO, no retry
            break;
        }
        if (comp.status == vscsi_status::sense)
            comp.sense = sense;
        comp.residual = c->cmd.datalen() - c->moved;
        if (retry_locked(c, comp)) {
            // The midlayer retries: the same command again, under a new tag.
            retried = true;
        } else {
            handler = std::move(c->done);
            finish_locked(c);
        }
        notify = update_readiness_locked();
    }
    if (notify)
        ready_->notify();
    if (!retried && handler)
        handler(comp);
    return {};
}

std::error_code embedded_vscsi::do_devevent(bool probe, int target, int lun)
{
    {
        std::lock_guard lk(m_);
        events_.push_back(devevent{probe, target, lun});
    }
    events_cv_.notify_all();
    return {};
}

void embedded_vscsi::do_close()
{
    completion_list done;
    {
        std::lock_guard lk(m_);
        open_ = false;
        events_.clear();
        scsi_completion reset;
        reset.status = vscsi_status::reset;
        // Every waiting and in-progress command, then those waiting for an opening.
        std::vector<ccb_ptr> all;
        live_.for_each([&](int, ccb* c) {
            if (c->dequeued)
                all.push_back(c);
        });
        all.insert(all.end(), waiting_.begin(), waiting_.end());
        for (const auto& [when, c] : delayed_)
            all.push_back(c);
        delayed_.clear();
        for (auto& ls : luns_) {
            all.insert(all.end(), ls.pending.begin(), ls.pending.end());
            ls.pending.clear();
            ls.active = 0;
        }
        for (ccb* c : all) {
            reset.residual = c->cmd.datalen() - c->moved; // moved is 0 unless dequeued
            done.emplace_back(std::move(c->done), reset);
            c->done = nullptr;
            free_ccbs_.push_back(c);
        }
        live_ = tag_table<ccb>{};
        waiting_.clear();
        (void)update_readiness_locked(); // nothing waits: clears
    }
    run_completions(done);

    // Let a probe under way fail (its commands now get ENXIO), then detach all.
    std::vector<attached_disk> gone;
    {
        std::unique_lock lk(m_);
        idle_cv_.wait(lk, [this] { return !worker_busy_ && events_.empty(); });
        gone.swap(disks_);
    }
    for (const auto& d : gone) {
        log(d.name + " detached");
        if (config_.disk_event)
            config_.disk_event(d, false);
    }
}

std::vector<attached_disk> embedded_vscsi::disks() const
{
    std::lock_guard lk(m_);
    return disks_;
}

bool embedded_vscsi::probe_idle() const
{
    std::lock_guard lk(m_);
    return !worker_busy_ && events_.empty();
}

bool embedded_vscsi::wait_probe_idle(std::chrono::milliseconds limit)
{
    std::unique_lock lk(m_);
    return idle_cv_.wait_for(lk, limit, [this] { return !worker_busy_ && events_.empty(); });
}

void embedded_vscsi::log(const std::string& line) const { config_.log.info(line); }

} // namespace ivs::vscsi
