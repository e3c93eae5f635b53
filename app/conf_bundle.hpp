// The configuration as `serve`'s privileged parent hands it to its worker,
// which runs chrooted as an unprivileged user and opens no file: the text of
// the configuration file and of every file it included (the worker parses
// exactly what the parent checked), the CHAP secrets of the secret files it
// names (read by the parent only), and the address of each enabled target's
// host and of its initiatoraddr, resolved by the parent with the address
// family given (the worker has no resolver files).
#pragma once

#include "config/conf.hpp"

#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace ivs::app {

struct conf_bundle {
    config::conf_sources sources;
    struct secret {
        std::string file;  // as the configuration names it
        std::string bytes; // the secret (chap_secret::load_file's reading); empty when `error` says why not
        std::string error;

        secret() = default;
        secret(const secret&) = default;
        secret(secret&&) = default;
        secret& operator=(const secret&) = default;
        secret& operator=(secret&&) = default;
        ~secret(); // wipes `bytes`
    };
    std::vector<secret> secrets;
    struct address {
        std::string host; // as written
        config::address_family family = config::address_family::any;
        std::string numeric; // the first address getaddrinfo gave; empty when `error` says why not
        std::string error;
    };
    std::vector<address> addresses;
};

// Parent: what load_serve_conf loads and checks, recorded; the secret files
// read; every enabled target's host and initiatoraddr resolved. `parsed` is the configuration
// parsed back from the bundle (what the worker sees). Errors as
// load_serve_conf's.
std::error_code make_conf_bundle(const std::filesystem::path& file, conf_bundle& out, config::conf& parsed,
                                 std::string& error);

// Parent: `host` (a name or a literal) as one numeric address of `family`;
// false with `error` ("cannot resolve ..."). A literal of the other family
// is refused.
bool resolve_host(const std::string& host, config::address_family family, std::string& numeric, std::string& error);

// The bundle as one message payload, and back (false on a malformed one).
// The encoding holds the secrets: wipe it when done (wipe_string).
std::string encode_conf_bundle(const conf_bundle& b);
bool decode_conf_bundle(std::string_view data, conf_bundle& out);

// Overwrites a string's bytes before it is freed (secrets in transit).
void wipe_string(std::string& s) noexcept;

// Worker: make_session_config's inputs from the bundle: the secrets as the
// parent read them, the addresses as it resolved them (a host it did not
// resolve is refused).
struct target_inputs;
target_inputs inputs_from(const conf_bundle& b);

} // namespace ivs::app
