#include "iscsi/chap_secret.hpp"

#include "iscsi/chap.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <unistd.h>

namespace ivs::iscsi {

chap_secret::chap_secret(std::string_view bytes)
    : chap_secret(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()))
{}

chap_secret::chap_secret(std::span<const std::uint8_t> bytes)
{
    if (bytes.empty())
        return;
    data_ = std::make_unique<std::uint8_t[]>(bytes.size());
    std::memcpy(data_.get(), bytes.data(), bytes.size());
    size_ = bytes.size();
}

chap_secret::chap_secret(const chap_secret& other) : chap_secret(other.bytes()) {}

chap_secret::chap_secret(chap_secret&& other) noexcept : data_(std::move(other.data_)), size_(other.size_)
{
    other.size_ = 0;
}

chap_secret& chap_secret::operator=(const chap_secret& other)
{
    if (this != &other) {
        chap_secret copy(other);
        *this = std::move(copy);
    }
    return *this;
}

chap_secret& chap_secret::operator=(chap_secret&& other) noexcept
{
    if (this != &other) {
        wipe();
        data_ = std::move(other.data_);
        size_ = other.size_;
        other.size_ = 0;
    }
    return *this;
}

chap_secret::~chap_secret() { wipe(); }

void chap_secret::wipe() noexcept
{
    if (data_ && size_ != 0)
        OPENSSL_cleanse(data_.get(), size_);
    data_.reset();
    size_ = 0;
}

bool chap_secret::same_as(const chap_secret& other) const noexcept
{
    if (size_ != other.size_)
        return false;
    if (size_ == 0)
        return true;
    return CRYPTO_memcmp(data_.get(), other.data_.get(), size_) == 0;
}

chap_secret chap_secret::load_file(const char* path, std::error_code& ec)
{
    ec.clear();
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ec = chap_errc::secret_file_unreadable;
        return {};
    }
    // One byte more than the limit tells "too long" apart from "exactly at the limit".
    std::uint8_t buf[max_file_bytes + 1];
    std::size_t len = 0;
    bool failed = false;
    while (len < sizeof buf) {
        const ssize_t n = ::read(fd, buf + len, sizeof buf - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            failed = true;
            break;
        }
        if (n == 0)
            break;
        len += static_cast<std::size_t>(n);
    }
    ::close(fd);

    chap_secret result;
    if (failed) {
        ec = chap_errc::secret_file_unreadable;
    } else if (len > max_file_bytes) {
        ec = chap_errc::secret_too_long;
    } else {
        std::size_t used = len;
        if (used > 0 && buf[used - 1] == '\n') {
            --used;
            if (used > 0 && buf[used - 1] == '\r')
                --used;
        }
        if (used == 0)
            ec = chap_errc::secret_empty;
        else
            result = chap_secret(std::span<const std::uint8_t>(buf, used));
    }
    OPENSSL_cleanse(buf, sizeof buf);
    return result;
}

} // namespace ivs::iscsi
