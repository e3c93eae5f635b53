#include "app/conf_bundle.hpp"

#include "app/privsep_protocol.hpp"
#include "app/serve_target.hpp"
#include "config/conf_values.hpp"
#include "iscsi/chap_secret.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/crypto.h>

#include <algorithm>
#include <memory>

namespace ivs::app {

namespace {

const char* family_name(config::address_family f)
{
    switch (f) {
    case config::address_family::inet: return "inet";
    case config::address_family::inet6: return "inet6";
    case config::address_family::any: break;
    }
    return "any";
}

bool family_of(std::string_view name, config::address_family& out)
{
    if (name == "any")
        out = config::address_family::any;
    else if (name == "inet")
        out = config::address_family::inet;
    else if (name == "inet6")
        out = config::address_family::inet6;
    else
        return false;
    return true;
}

} // namespace

bool resolve_host(const std::string& host, config::address_family family, std::string& numeric, std::string& error)
{
    numeric.clear();
    addrinfo hints{};
    hints.ai_family = family == config::address_family::inet    ? AF_INET
                      : family == config::address_family::inet6 ? AF_INET6
                                                                : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    addrinfo* res = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
    if (rc != 0) {
        error = "cannot resolve " + host +
                (family == config::address_family::any ? "" : std::string(" as ") + family_name(family)) + ": " +
                ::gai_strerror(rc);
        return false;
    }
    char text[INET6_ADDRSTRLEN] = {};
    const void* addr = nullptr;
    if (res->ai_family == AF_INET)
        addr = &reinterpret_cast<const sockaddr_in*>(res->ai_addr)->sin_addr;
    else if (res->ai_family == AF_INET6)
        addr = &reinterpret_cast<const sockaddr_in6*>(res->ai_addr)->sin6_addr;
    const bool ok = addr != nullptr && ::inet_ntop(res->ai_family, addr, text, sizeof text) != nullptr;
    ::freeaddrinfo(res);
    if (!ok) {
        error = "cannot resolve " + host + ": no IPv4 or IPv6 address";
        return false;
    }
    numeric = text;
    return true;
}

std::error_code make_conf_bundle(const std::filesystem::path& file, conf_bundle& out, config::conf& parsed,
                                 std::string& error)
{
    out = {};
    config::conf first;
    if (auto ec = load_serve_conf(file, first, error, &out.sources))
        return ec;
    // What the worker will parse: the recorded text, not the files again.
    if (auto ec = config::parse_conf_sources(out.sources, parsed, error))
        return ec;
    for (const auto& t : parsed.targets) {
        for (const auto* chap : {&t.chap, &t.mutual_chap}) {
            if (!*chap)
                continue;
            const std::string name = (*chap)->secret_file.string();
            if (std::any_of(out.secrets.begin(), out.secrets.end(), [&](const auto& s) { return s.file == name; }))
                continue;
            conf_bundle::secret s;
            s.file = name;
            std::error_code ec;
            const auto secret = iscsi::chap_secret::load_file(name.c_str(), ec);
            if (ec)
                s.error = ec.message();
            else
                s.bytes.assign(reinterpret_cast<const char*>(secret.bytes().data()), secret.size());
            out.secrets.push_back(std::move(s));
        }
        if (!t.enabled)
            continue;
        // The target's address, and the host name of the local address its
        // connections bind to (a literal is used as written).
        const auto& local = t.initiator_addr ? t.initiator_addr : parsed.initiator_addr;
        for (const auto* a :
             {&t.target_addr, local && config::classify_address_literal(local->host) == config::address_literal::none
                                  ? &*local
                                  : nullptr}) {
            if (!a || std::any_of(out.addresses.begin(), out.addresses.end(),
                                  [&](const auto& x) { return x.host == a->host && x.family == a->family; }))
                continue;
            conf_bundle::address r;
            r.host = a->host;
            r.family = a->family;
            resolve_host(a->host, a->family, r.numeric, r.error);
            out.addresses.push_back(std::move(r));
        }
    }
    return {};
}

std::string encode_conf_bundle(const conf_bundle& b)
{
    payload_writer w;
    w.add(b.sources.file).add(b.sources.text).add(b.sources.included.size());
    for (const auto& [path, text] : b.sources.included)
        w.add(path.string()).add(text);
    w.add(b.secrets.size());
    for (const auto& s : b.secrets)
        w.add(s.file).add(s.bytes).add(s.error);
    w.add(b.addresses.size());
    for (const auto& a : b.addresses)
        w.add(a.host).add(family_name(a.family)).add(a.numeric).add(a.error);
    return w.take();
}

bool decode_conf_bundle(std::string_view data, conf_bundle& out)
{
    out = {};
    payload_reader r(data);
    std::uint64_t n = 0;
    if (!r.next(out.sources.file) || !r.next(out.sources.text) || !r.next(n, config::max_included_files))
        return false;
    for (std::uint64_t i = 0; i < n; ++i) {
        std::string path, text;
        if (!r.next(path) || !r.next(text))
            return false;
        out.sources.included.emplace_back(path, std::move(text));
    }
    if (!r.next(n, 1u << 16))
        return false;
    for (std::uint64_t i = 0; i < n; ++i) {
        conf_bundle::secret s;
        if (!r.next(s.file) || !r.next(s.bytes) || !r.next(s.error))
            return false;
        out.secrets.push_back(std::move(s));
    }
    if (!r.next(n, 1u << 16))
        return false;
    for (std::uint64_t i = 0; i < n; ++i) {
        conf_bundle::address a;
        std::string family;
        if (!r.next(a.host) || !r.next(family) || !family_of(family, a.family) || !r.next(a.numeric) ||
            !r.next(a.error))
            return false;
        out.addresses.push_back(std::move(a));
    }
    return r.done();
}

conf_bundle::secret::~secret() { wipe_string(bytes); }

target_inputs inputs_from(const conf_bundle& b)
{
    struct held {
        std::string file;
        iscsi::chap_secret secret; // wiped when the last copy of the inputs goes
        std::string error;
    };
    auto secrets = std::make_shared<std::vector<held>>();
    for (const auto& s : b.secrets)
        secrets->push_back({s.file, iscsi::chap_secret(std::string_view(s.bytes)), s.error});
    auto addresses = std::make_shared<std::vector<conf_bundle::address>>(b.addresses);
    target_inputs in;
    in.secret = [secrets](const std::filesystem::path& file, iscsi::chap_secret& out, std::string& why) {
        for (const auto& h : *secrets) {
            if (h.file != file.string())
                continue;
            if (!h.error.empty()) {
                why = h.error;
                return false;
            }
            out = h.secret;
            return true;
        }
        why = "not read by the privileged process";
        return false;
    };
    in.address = [addresses](const config::conf_address& a, std::string& host, std::string& why) {
        for (const auto& r : *addresses) {
            if (r.host != a.host || r.family != a.family)
                continue;
            if (!r.error.empty()) {
                why = r.error;
                return false;
            }
            host = r.numeric;
            return true;
        }
        why = "address of " + a.host + " not resolved by the privileged process";
        return false;
    };
    return in;
}

void wipe_string(std::string& s) noexcept
{
    if (!s.empty())
        OPENSSL_cleanse(s.data(), s.size());
    s.clear();
}

} // namespace ivs::app
