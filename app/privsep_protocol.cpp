#include "app/privsep_protocol.hpp"

#include <charconv>
#include <cstring>

namespace ivs::app {

payload_writer& payload_writer::add(std::string_view field)
{
    const auto n = static_cast<std::uint32_t>(field.size());
    char len[sizeof n];
    std::memcpy(len, &n, sizeof n);
    data_.append(len, sizeof n);
    data_.append(field);
    return *this;
}

payload_writer& payload_writer::add(std::uint64_t number) { return add(std::to_string(number)); }

bool payload_reader::next(std::string& out)
{
    out.clear();
    std::uint32_t n = 0;
    if (!ok_ || rest_.size() < sizeof n) {
        ok_ = false;
        return false;
    }
    std::memcpy(&n, rest_.data(), sizeof n);
    rest_.remove_prefix(sizeof n);
    if (n > rest_.size()) {
        ok_ = false;
        return false;
    }
    out.assign(rest_.substr(0, n));
    rest_.remove_prefix(n);
    return true;
}

bool payload_reader::next(std::uint64_t& out, std::uint64_t max)
{
    out = 0;
    std::string s;
    if (!next(s))
        return false;
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || v > max) {
        ok_ = false;
        return false;
    }
    out = v;
    return true;
}

} // namespace ivs::app
