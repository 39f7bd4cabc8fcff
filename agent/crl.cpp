#include "agent/crl.h"

#include <openssl/evp.h>
#include <openssl/objects.h>

#include <algorithm>
#include <string_view>

#include "agent/der_reader.h"

namespace certbridge::agent {
namespace {

// id-ce-cRLNumber (2.5.29.20) and id-ce-deltaCRLIndicator (2.5.29.27), DER-encoded.
constexpr unsigned char kCrlNumberOid[] = {0x55, 0x1d, 0x14};
constexpr unsigned char kDeltaCrlIndicatorOid[] = {0x55, 0x1d, 0x1b};

bool sameBytes(std::span<const unsigned char> left, std::span<const unsigned char> right) {
  return std::equal(left.begin(), left.end(), right.begin(), right.end());
}

// The magnitude of a DER INTEGER in upper-case hex, as OpenSSL's BN_bn2hex prints serials.
std::string integerToHex(std::span<const unsigned char> contents) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::size_t first = 0;
  while (first + 1 < contents.size() && contents[first] == 0) {
    ++first;
  }
  if (contents.empty() || (contents.size() - first == 1 && contents[first] == 0)) {
    return "0";
  }
  std::string hex;
  hex.reserve((contents.size() - first) * 2);
  for (std::size_t i = first; i < contents.size(); ++i) {
    hex.push_back(kDigits[contents[i] >> 4]);
    hex.push_back(kDigits[contents[i] & 0x0f]);
  }
  return hex;
}

std::int64_t readTime(const DerElement& element, const std::string& origin, const char* which) {
  const unsigned char* cursor = element.encoded.data();
  const Asn1TimePtr time(
      d2i_ASN1_TIME(nullptr, &cursor, static_cast<long>(element.encoded.size())));
  const std::optional<std::int64_t> unix_time = toUnixTime(time.get());
  if (!unix_time) {
    throw CrlError(origin + ": unreadable " + which);
  }
  return *unix_time;
}

bool isTime(unsigned char tag) {
  return tag == kDerUtcTime || tag == kDerGeneralizedTime;
}

}  // namespace

Crl Crl::parse(std::span<const unsigned char> der, const std::string& origin) {
  Crl crl;
  crl.origin_ = origin;
  crl.der_ = der;
  try {
    DerReader outer(der);
    const DerElement certificate_list = outer.read(kDerSequence, "CertificateList");
    if (!outer.atEnd()) {
      throw DerError("stray bytes after the CRL");
    }
    DerReader list(certificate_list.contents);
    const DerElement tbs = list.read(kDerSequence, "tbsCertList");
    crl.tbs_ = tbs.encoded;
    crl.signature_algorithm_ = list.read(kDerSequence, "signatureAlgorithm").encoded;
    const DerElement signature = list.read(kDerBitString, "signatureValue");
    if (signature.contents.empty() || signature.contents[0] != 0) {
      throw DerError("signature is not a whole number of bytes");
    }
    crl.signature_ = signature.contents.subspan(1);

    DerReader fields(tbs.contents);
    if (fields.peekTag() == kDerInteger) {
      fields.read(kDerInteger, "version");
    }
    const DerElement inner_algorithm = fields.read(kDerSequence, "signature");
    if (!sameBytes(inner_algorithm.encoded, crl.signature_algorithm_)) {
      throw DerError("the signed and the outer signature algorithms differ");
    }
    const DerElement issuer = fields.read(kDerSequence, "issuer");
    const unsigned char* cursor = issuer.encoded.data();
    crl.issuer_name_.reset(
        d2i_X509_NAME(nullptr, &cursor, static_cast<long>(issuer.encoded.size())));
    if (!crl.issuer_name_) {
      throw DerError("unreadable issuer name");
    }
    crl.issuer_ = nameToString(crl.issuer_name_.get());
    crl.this_update_ = readTime(fields.read(0, "thisUpdate"), origin, "thisUpdate");
    if (isTime(fields.peekTag())) {
      crl.next_update_ = readTime(fields.read(0, "nextUpdate"), origin, "nextUpdate");
    }
    if (fields.peekTag() == kDerSequence) {
      crl.revoked_ = fields.read(kDerSequence, "revokedCertificates").contents;
    }
    if (fields.peekTag() == kDerContext0) {
      DerReader wrapper(fields.read(kDerContext0, "crlExtensions").contents);
      DerReader extensions(wrapper.read(kDerSequence, "Extensions").contents);
      while (!extensions.atEnd()) {
        DerReader extension(extensions.read(kDerSequence, "Extension").contents);
        const DerElement oid = extension.read(kDerOid, "extnID");
        if (extension.peekTag() == 0x01) {
          extension.read(0x01, "critical");
        }
        const DerElement value = extension.read(kDerOctetString, "extnValue");
        if (sameBytes(oid.contents, kDeltaCrlIndicatorOid)) {
          throw CrlError(origin + ": is a delta CRL; certbridge needs complete CRLs");
        }
        if (sameBytes(oid.contents, kCrlNumberOid)) {
          DerReader number(value.contents);
          crl.number_ = integerToHex(number.read(kDerInteger, "cRLNumber").contents);
        }
      }
    }
    if (!fields.atEnd()) {
      throw DerError("unexpected fields after the CRL extensions");
    }
  } catch (const DerError& error) {
    throw CrlError(origin + ": not a valid CRL (" + error.what() + ")");
  }
  return crl;
}

bool Crl::isIssuedBy(const Certificate& ca) const {
  return X509_NAME_cmp(issuer_name_.get(), X509_get_subject_name(ca.get())) == 0;
}

void Crl::verifySignature(const Certificate& ca) const {
  const unsigned char* cursor = signature_algorithm_.data();
  const X509AlgorPtr algorithm(
      d2i_X509_ALGOR(nullptr, &cursor, static_cast<long>(signature_algorithm_.size())));
  const ASN1_OBJECT* oid = nullptr;
  if (algorithm) {
    X509_ALGOR_get0(&oid, nullptr, nullptr, algorithm.get());
  }
  int digest_nid = NID_undef;
  int key_nid = NID_undef;
  if (oid == nullptr || OBJ_find_sigid_algs(OBJ_obj2nid(oid), &digest_nid, &key_nid) != 1) {
    throw CrlError(origin_ + ": unsupported signature algorithm");
  }
  const EVP_MD* digest = digest_nid == NID_undef ? nullptr : EVP_get_digestbynid(digest_nid);
  EVP_PKEY* key = X509_get0_pubkey(ca.get());
  const EvpMdCtxPtr context(EVP_MD_CTX_new());
  const bool verified = key != nullptr && context &&
                        EVP_DigestVerifyInit(context.get(), nullptr, digest, nullptr, key) == 1 &&
                        EVP_DigestVerify(context.get(), signature_.data(), signature_.size(),
                                         tbs_.data(), tbs_.size()) == 1;
  if (!verified) {
    const std::string detail = takeOpenSslErrors();
    throw CrlError(origin_ + ": signature does not verify with the key of '" + ca.record().subject +
                   "' (" + detail + ")");
  }
}

std::size_t Crl::forEachRevokedSerial(const std::function<void(const std::string&)>& visit) const {
  std::size_t count = 0;
  try {
    DerReader entries(revoked_);
    while (!entries.atEnd()) {
      DerReader entry(entries.read(kDerSequence, "revoked entry").contents);
      visit(integerToHex(entry.read(kDerInteger, "userCertificate").contents));
      ++count;
    }
  } catch (const DerError& error) {
    throw CrlError(origin_ + ": revoked entry " + std::to_string(count + 1) + " is malformed (" +
                   error.what() + ")");
  }
  return count;
}

std::vector<unsigned char> crlDerFromBytes(std::vector<unsigned char> bytes,
                                           const std::string& origin) {
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  constexpr std::string_view kBegin = "-----BEGIN X509 CRL-----";
  constexpr std::string_view kEnd = "-----END X509 CRL-----";
  const auto begin = text.find(kBegin);
  if (begin == std::string_view::npos) {
    if (!bytes.empty() && bytes[0] == kDerSequence) {
      return bytes;
    }
    throw CrlError(origin + ": neither a DER CRL nor PEM with an X509 CRL block");
  }
  const auto end = text.find(kEnd, begin);
  if (end == std::string_view::npos) {
    throw CrlError(origin + ": PEM block has no END line");
  }
  std::string base64;
  for (const char c : text.substr(begin + kBegin.size(), end - begin - kBegin.size())) {
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') {
      base64.push_back(c);
    }
  }
  std::vector<unsigned char> der(base64.size() / 4 * 3 + 3);
  const int decoded =
      EVP_DecodeBlock(der.data(), reinterpret_cast<const unsigned char*>(base64.data()),
                      static_cast<int>(base64.size()));
  // EVP_DecodeBlock counts '=' padding as zero bytes. More than two '=' is not base64 (and "===="
  // would otherwise take the size below zero).
  std::size_t padding = 0;
  for (auto it = base64.rbegin(); it != base64.rend() && *it == '='; ++it) {
    ++padding;
  }
  if (decoded < 0 || base64.size() % 4 != 0 || padding > 2 ||
      padding > static_cast<std::size_t>(decoded)) {
    throw CrlError(origin + ": PEM block is not valid base64");
  }
  der.resize(static_cast<std::size_t>(decoded) - padding);
  return der;
}

void appendCrlPem(std::string& out, std::span<const unsigned char> der) {
  constexpr std::size_t kLineBytes = 48;  // 64 base64 characters
  out.reserve(out.size() + (der.size() / kLineBytes + 1) * 65 + 64);
  out += "-----BEGIN X509 CRL-----\n";
  unsigned char line[65];
  for (std::size_t offset = 0; offset < der.size(); offset += kLineBytes) {
    const std::size_t length = std::min(kLineBytes, der.size() - offset);
    const int written = EVP_EncodeBlock(line, der.data() + offset, static_cast<int>(length));
    out.append(reinterpret_cast<const char*>(line), static_cast<std::size_t>(written));
    out.push_back('\n');
  }
  out += "-----END X509 CRL-----\n";
}

std::string crlToPem(std::span<const unsigned char> der) {
  std::string pem;
  appendCrlPem(pem, der);
  return pem;
}

}  // namespace certbridge::agent
