// The iscsi-vscsi configuration file, iscsi-vscsi.conf(5): the data model
// and the entry points. The grammar is OpenBSD's iscsi.conf(5) (macros,
// include, isid, target blocks) plus the extensions documented in the page.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace ivs::config {

// Where something was defined, for messages: "file:line".
struct conf_location {
    std::string file;
    unsigned line = 0;
};

inline std::string to_string(const conf_location& where) { return where.file + ":" + std::to_string(where.line); }

// `isid (oui|en|rand) BASE QUALIFIER`; RFC 7143 §11.12.5 ISID formats.
enum class isid_format : std::uint8_t { oui = 0, en = 1, rand = 2 };

// The numbers as written, read as iscsictl(8) reads them: the ISID is the
// 32-bit "base" word (T, A, B, C fields) followed by the 16-bit qualifier
// (D). oui: the base word is T=00 | (BASE & 0x3fffff00), the OUI already in
// bits 8-29, and QUALIFIER's bits 16-23 give its low byte (C); en and rand:
// T=01 or T=10 | (BASE & 0xffffff). D is always QUALIFIER's low 16 bits.
// Other bits are ignored (isid_ignored_bits says which).
struct conf_isid {
    isid_format format = isid_format::rand;
    std::int64_t base = 0;
    std::int64_t qualifier = 0;
};

// The 6 ISID bytes (T, A, B, C, D fields of §11.12.5), big-endian.
std::array<std::uint8_t, 6> isid_bytes(const conf_isid& isid) noexcept;

// True when BASE or QUALIFIER has bits that isid_bytes ignores.
bool isid_ignored_bits(const conf_isid& isid) noexcept;

enum class address_family : std::uint8_t { any, inet, inet6 };

inline constexpr std::uint16_t default_iscsi_port = 3260; // RFC 7143 §4.1.1 (well-known port)

struct conf_address {
    std::string host; // name, IPv4 or IPv6 literal, as written
    std::uint16_t port = default_iscsi_port;
    address_family family = address_family::any;
};

enum class conf_session_type : std::uint8_t { normal, discovery };

// HeaderDigest/DataDigest offer in preference order (§13.1).
enum class conf_digest : std::uint8_t { none, crc32c, crc32c_or_none, none_or_crc32c };

// CHAP_A values (§12.1.3 and the IANA registry).
enum class conf_chap_algorithm : std::uint8_t { md5 = 5, sha1 = 6, sha256 = 7, sha3_256 = 8 };

struct conf_chap {
    std::string user;
    std::filesystem::path secret_file; // relative paths resolved against the defining file's directory
};

struct conf_target {
    std::string name;    // the block's name, unique in the file
    conf_location where; // the `target` line
    bool enabled = true;
    conf_session_type type = conf_session_type::normal;
    conf_address target_addr; // required
    // Local address to bind: an IPv4 or IPv6 literal, or a host name that
    // serve resolves when it loads the file (as iscsictl(8) does), in
    // `family` when given; port always 0. Empty: the global one, if any.
    std::optional<conf_address> initiator_addr;
    std::string target_name;    // required for normal targets, refused for discovery ones
    std::string initiator_name; // per-target override (OpenBSD `initiatorname` in a block)

    // Extensions.
    std::optional<conf_chap> chap;
    std::optional<conf_chap> mutual_chap;             // needs chap
    std::vector<conf_chap_algorithm> chap_algorithms; // preference order; empty: default
    std::optional<conf_digest> header_digest;
    std::optional<conf_digest> data_digest;
    std::optional<std::uint32_t> nop_interval;                 // seconds, 0 disables
    std::optional<std::uint32_t> nop_timeout;                  // seconds
    std::optional<std::uint32_t> replacement_timeout;          // seconds
    std::optional<std::uint32_t> command_timeout;              // seconds
    std::optional<std::uint32_t> max_recv_data_segment_length; // §13.12
    std::optional<std::uint32_t> max_burst_length;             // §13.13
    std::optional<std::uint32_t> first_burst_length;           // §13.14
    std::optional<std::uint16_t> max_outstanding_r2t;          // §13.17
    std::optional<bool> initial_r2t;                           // §13.10
    std::optional<bool> immediate_data;                        // §13.11
    std::vector<std::uint16_t> luns;                           // in file order; empty: every LUN
    std::filesystem::path export_dir;                          // FUSE export; empty: none
};

struct conf {
    std::string initiator_name;                 // global `initiatorname`; empty: the built-in default
    std::optional<conf_address> initiator_addr; // global `initiatoraddr`, for targets without one
    std::optional<conf_isid> isid;              // empty: random at startup
    std::vector<conf_target> targets;
    // "file:line: ..." about what iscsictl(8) accepts and this program takes
    // the same way, but that is likely a mistake (a setting given twice, ...).
    std::vector<std::string> warnings;
};

// Error codes of this file's functions; the message with file:line is in `error`.
enum class conf_errc {
    syntax = 1,    // one or more "file:line: reason" lines
    read_failed,   // the file could not be opened or read
    too_large,     // a file over max_conf_file_size
    insecure_file, // check_conf_file or check_secret_file refused it
};
const std::error_category& conf_category() noexcept;
inline std::error_code make_error_code(conf_errc e) noexcept { return {static_cast<int>(e), conf_category()}; }

inline constexpr std::size_t max_conf_file_size = 1 << 20;
inline constexpr unsigned max_include_depth = 16;   // files open at once
inline constexpr unsigned max_included_files = 256; // files read in all
inline constexpr std::size_t max_reported_errors = 8;

// Reads an included file into `text`; `error` gets a reason on failure.
using conf_reader = std::function<std::error_code(const std::filesystem::path&, std::string& text, std::string& error)>;

// The I/O-free parser: `filename` names `text` in messages and its directory
// is the base of relative includes, which `read` supplies. On failure `out`
// is left empty and `error` holds up to max_reported_errors lines.
std::error_code parse_conf(std::string_view text, std::string_view filename, const conf_reader& read, conf& out,
                           std::string& error);

// parse_conf with includes read from the file system.
std::error_code parse_conf_text(std::string_view text, std::string_view filename, conf& out, std::string& error);

// Reads and parses a configuration file and what it includes.
std::error_code load_conf(const std::filesystem::path& file, conf& out, std::string& error);

// load_conf, refusing the file and every file it includes as
// check_conf_file does (checked on the opened file).
std::error_code load_checked_conf(const std::filesystem::path& file, conf& out, std::string& error);

// Refuses a configuration file that is not a regular file, is writable by
// group or others, or is owned by neither root nor the current user. It
// may be readable by anyone: it holds no secret (those live in the secret
// files), as OpenBSD's 0644 /etc/iscsi.conf.
std::error_code check_conf_file(const std::filesystem::path& file, std::string& error);

// The text of a configuration file and of every file it included, by the
// path the parser asked for: enough for parse_conf to read them again
// without the file system (serve's worker, which cannot open them).
struct conf_sources {
    std::string file; // the configuration file, as given
    std::string text;
    std::vector<std::pair<std::filesystem::path, std::string>> included;
};

// load_checked_conf that also records what it read in `sources`.
std::error_code load_checked_conf(const std::filesystem::path& file, conf& out, std::string& error,
                                  conf_sources& sources);

// parse_conf over `sources` alone: an include it does not hold fails as a
// file that cannot be read.
std::error_code parse_conf_sources(const conf_sources& sources, conf& out, std::string& error);

// check_conf_file, and refuses a file readable by group or others, saying
// that it holds a secret (CHAP secret files).
std::error_code check_secret_file(const std::filesystem::path& file, std::string& error);

// Reads a whole regular file of at most max_conf_file_size bytes.
std::error_code read_conf_file(const std::filesystem::path& file, std::string& text, std::string& error);

} // namespace ivs::config

template <>
struct std::is_error_code_enum<ivs::config::conf_errc> : std::true_type {};
