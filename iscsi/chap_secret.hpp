// A CHAP secret (RFC 1994 §2.2, RFC 7143 §12.1.3): raw bytes kept in one allocation that is
// wiped with OPENSSL_cleanse when the secret is destroyed or replaced. Never printed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <system_error>

namespace ivs::iscsi {

class chap_secret {
public:
    chap_secret() noexcept = default;
    explicit chap_secret(std::string_view bytes);
    explicit chap_secret(std::span<const std::uint8_t> bytes);
    chap_secret(const chap_secret& other);
    chap_secret(chap_secret&& other) noexcept;
    chap_secret& operator=(const chap_secret& other);
    chap_secret& operator=(chap_secret&& other) noexcept;
    ~chap_secret();

    // Reads the whole file (at most max_file_bytes), strips one trailing "\n" (or "\r\n").
    // Errors: chap_errc::secret_file_unreadable, secret_too_long, secret_empty. The caller
    // (the daemon) checks ownership and mode before.
    static constexpr std::size_t max_file_bytes = 1024;
    static chap_secret load_file(const char* path, std::error_code& ec);

    std::span<const std::uint8_t> bytes() const noexcept { return {data_.get(), size_}; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }

    // Constant-time for equal lengths (CRYPTO_memcmp); the length itself is not secret.
    bool same_as(const chap_secret& other) const noexcept;

private:
    void wipe() noexcept;
    std::unique_ptr<std::uint8_t[]> data_;
    std::size_t size_ = 0;
};

} // namespace ivs::iscsi
