#include "app/serve_target.hpp"

#include "app/conf_bundle.hpp"
#include "config/conf_values.hpp"
#include "config/initiator_name.hpp"

#include <tuple>

namespace ivs::app {

namespace {

std::string at(const config::conf_target& t)
{
    return t.where.file + ":" + std::to_string(t.where.line) + ": target " + t.name + ": ";
}

iscsi::digest_offer digest_of(config::conf_digest d)
{
    switch (d) {
    case config::conf_digest::none: return iscsi::digest_offer::none;
    case config::conf_digest::crc32c: return iscsi::digest_offer::crc32c;
    case config::conf_digest::crc32c_or_none: return iscsi::digest_offer::crc32c_or_none;
    case config::conf_digest::none_or_crc32c: return iscsi::digest_offer::none_or_crc32c;
    }
    return iscsi::digest_offer::none;
}

bool load_identity(const config::conf_target& t, const config::conf_chap& c, const target_inputs& in,
                   std::optional<iscsi::chap_identity>& out, std::string& error)
{
    iscsi::chap_secret secret;
    std::string why;
    if (in.secret) {
        if (!in.secret(c.secret_file, secret, why)) {
            error = at(t) + "cannot use secret file " + c.secret_file.string() + ": " + why;
            return false;
        }
    } else {
        std::error_code ec;
        secret = iscsi::chap_secret::load_file(c.secret_file.c_str(), ec);
        if (ec) {
            error = at(t) + "cannot use secret file " + c.secret_file.string() + ": " + ec.message();
            return false;
        }
    }
    out = iscsi::chap_identity{c.user, std::move(secret)};
    return true;
}

auto address_key(const config::conf_address& a) { return std::tie(a.host, a.port, a.family); }

auto chap_key(const std::optional<config::conf_chap>& c)
{
    return std::make_tuple(c.has_value(), c ? c->user : std::string(), c ? c->secret_file : std::filesystem::path());
}

} // namespace

std::error_code load_serve_conf(const std::filesystem::path& file, config::conf& out, std::string& error,
                                config::conf_sources* sources)
{
    config::conf c;
    if (auto ec =
            sources ? config::load_checked_conf(file, c, error, *sources) : config::load_checked_conf(file, c, error))
        return ec;
    for (const auto& t : c.targets) {
        for (const auto* chap : {&t.chap, &t.mutual_chap}) {
            if (!*chap)
                continue;
            std::string why;
            if (auto ec = config::check_secret_file((*chap)->secret_file, why)) {
                error = at(t) + why;
                return ec;
            }
        }
    }
    out = std::move(c);
    return {};
}

bool make_session_config(const config::conf& c, const config::conf_target& t, const target_inputs& in,
                         iscsi::session_config& out, std::string& error)
{
    iscsi::session_config s;
    s.target_portal.host = t.target_addr.host;
    if (in.address) {
        std::string why;
        if (!in.address(t.target_addr, s.target_portal.host, why)) {
            error = at(t) + why;
            return false;
        }
    }
    s.target_portal.port = std::to_string(t.target_addr.port);
    // initiatoraddr: the target's own, else the global one. A literal as
    // written (an IPv6 scope kept), a host name as resolved when the file
    // was loaded.
    if (const auto& local = t.initiator_addr ? t.initiator_addr : c.initiator_addr) {
        std::string why;
        if (config::classify_address_literal(local->host) != config::address_literal::none) {
            s.local_address = local->host;
        } else if (in.address) {
            if (!in.address(*local, s.local_address, why)) {
                error = at(t) + "initiatoraddr: " + why;
                return false;
            }
        } else if (!resolve_host(local->host, local->family, s.local_address, why)) {
            error = at(t) + "initiatoraddr: " + why;
            return false;
        }
    }
    auto& l = s.login;
    l.initiator_name = !t.initiator_name.empty()   ? t.initiator_name
                       : !c.initiator_name.empty() ? c.initiator_name
                                                   : config::default_initiator_name();
    if (t.type == config::conf_session_type::discovery) {
        l.type = iscsi::session_type::discovery;
        s.recover = false;
    } else {
        l.target_name = t.target_name;
    }
    if (c.isid) {
        const auto b = config::isid_bytes(*c.isid);
        std::uint64_t v = 0;
        for (auto byte : b)
            v = (v << 8) | byte;
        l.isid = v;
    }
    if (t.chap && !load_identity(t, *t.chap, in, l.chap, error))
        return false;
    if (t.mutual_chap && !load_identity(t, *t.mutual_chap, in, l.mutual_chap, error))
        return false;
    if (!t.chap_algorithms.empty()) {
        l.chap_algorithms.clear();
        for (auto a : t.chap_algorithms)
            l.chap_algorithms.push_back(static_cast<iscsi::chap_algorithm>(a));
    }
    auto& p = l.proposals;
    if (t.header_digest)
        p.header_digest = digest_of(*t.header_digest);
    if (t.data_digest)
        p.data_digest = digest_of(*t.data_digest);
    if (t.max_recv_data_segment_length)
        p.max_recv_data_segment_length = *t.max_recv_data_segment_length;
    if (t.max_burst_length)
        p.max_burst_length = *t.max_burst_length;
    if (t.first_burst_length)
        p.first_burst_length = *t.first_burst_length;
    if (t.max_outstanding_r2t)
        p.max_outstanding_r2t = *t.max_outstanding_r2t;
    if (t.initial_r2t)
        p.initial_r2t = *t.initial_r2t;
    if (t.immediate_data)
        p.immediate_data = *t.immediate_data;
    if (t.nop_interval)
        s.nop_interval = std::chrono::seconds(*t.nop_interval);
    if (t.nop_timeout)
        s.nop_timeout = std::chrono::seconds(*t.nop_timeout);
    if (t.replacement_timeout)
        s.replacement_timeout = std::chrono::seconds(*t.replacement_timeout);
    if (t.command_timeout)
        s.command_timeout = std::chrono::seconds(*t.command_timeout);
    out = std::move(s);
    return true;
}

bool same_target(const config::conf_target& a, const config::conf_target& b)
{
    auto key = [](const config::conf_target& t) {
        const auto local = t.initiator_addr ? std::make_tuple(true, t.initiator_addr->host, t.initiator_addr->family)
                                            : std::make_tuple(false, std::string(), config::address_family::any);
        return std::make_tuple(t.enabled, t.type, address_key(t.target_addr), local, t.target_name, t.initiator_name,
                               chap_key(t.chap), chap_key(t.mutual_chap), t.chap_algorithms, t.header_digest,
                               t.data_digest, t.nop_interval, t.nop_timeout, t.replacement_timeout, t.command_timeout,
                               t.max_recv_data_segment_length, t.max_burst_length, t.first_burst_length,
                               t.max_outstanding_r2t, t.initial_r2t, t.immediate_data, t.luns, t.export_dir);
    };
    return key(a) == key(b);
}

} // namespace ivs::app
