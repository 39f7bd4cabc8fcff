#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>

namespace certbridge::storage {

// Serial numbers (of certificates and of CRL entries) are signed INTEGERs: DER `FF` is -1 and
// `00 FF` is 255. certbridge writes every serial it stores, compares or shows in one canonical
// text: "-" for a negative number, then the upper-case hex of the magnitude in whole bytes with
// no leading zero byte ("00" for zero). It is what nginx's $ssl_client_serial and
// `openssl x509 -serial` print, and two serials are the same number exactly when their texts
// are equal: -1 is "-01", 255 is "FF".
std::string serialText(bool negative, std::span<const unsigned char> magnitude);

// The canonical text of a DER INTEGER's contents (two's complement, big-endian); nullopt when
// they are empty or not minimally encoded (a leading 00 or FF byte that DER forbids), which
// OpenSSL, and so nginx, refuses to read.
std::optional<std::string> serialFromDerInteger(std::span<const unsigned char> contents);

// The serial of a DER certificate; nullopt when the bytes do not start like one. For the schema
// migration, which re-derives stored serials from stored DER without the agent's parser.
std::optional<std::string> certificateSerialFromDer(std::span<const unsigned char> der);

// Calls `visit` with the canonical serial of each revoked entry of a DER CRL; returns false
// when the CRL's structure cannot be walked. For the schema migration, as above.
bool forEachCrlEntrySerialInDer(std::span<const unsigned char> der,
                                const std::function<void(const std::string&)>& visit);

}  // namespace certbridge::storage
