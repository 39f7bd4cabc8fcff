#pragma once

#include <cert.h>
#include <certdb.h>
#include <nss.h>
#include <pk11pub.h>
#include <prerror.h>
#include <secitem.h>

#include <memory>
#include <string>

namespace certbridge::platform::nss {

struct NssContextDeleter {
  void operator()(NSSInitContext* context) const { NSS_ShutdownContext(context); }
};
using NssContextPtr = std::unique_ptr<NSSInitContext, NssContextDeleter>;

struct SlotDeleter {
  void operator()(PK11SlotInfo* slot) const { PK11_FreeSlot(slot); }
};
using SlotPtr = std::unique_ptr<PK11SlotInfo, SlotDeleter>;

struct CertListDeleter {
  void operator()(CERTCertList* list) const { CERT_DestroyCertList(list); }
};
using CertListPtr = std::unique_ptr<CERTCertList, CertListDeleter>;

// A list of PK11GenericObject from PK11_FindGenericObjects; destroying the head destroys all.
struct GenericObjectsDeleter {
  void operator()(PK11GenericObject* objects) const { PK11_DestroyGenericObjects(objects); }
};
using GenericObjectsPtr = std::unique_ptr<PK11GenericObject, GenericObjectsDeleter>;

struct ArenaDeleter {
  void operator()(PLArenaPool* arena) const { PORT_FreeArena(arena, PR_FALSE); }
};
using ArenaPtr = std::unique_ptr<PLArenaPool, ArenaDeleter>;

// An attribute value PK11_ReadRawAttribute allocated.
struct SecItemDataDeleter {
  void operator()(SECItem* item) const { SECITEM_FreeItem(item, PR_FALSE); }
};
using SecItemDataGuard = std::unique_ptr<SECItem, SecItemDataDeleter>;

// SEC_LookupCrls allocates the list and the decoded CRLs in one arena; freeing the arena frees
// all of it (as NSS's own crlutil does).
struct CrlHeadDeleter {
  void operator()(CERTCrlHeadNode* head) const { PORT_FreeArena(head->arena, PR_FALSE); }
};
using CrlHeadPtr = std::unique_ptr<CERTCrlHeadNode, CrlHeadDeleter>;

// NSS's text for the current thread's last error, e.g. "SEC_ERROR_BAD_DATABASE: security library:
// bad database."
inline std::string lastNssError() {
  const PRErrorCode code = PR_GetError();
  const char* name = PR_ErrorToName(code);
  const char* text = PR_ErrorToString(code, PR_LANGUAGE_I_DEFAULT);
  std::string message = name != nullptr ? name : ("NSS error " + std::to_string(code));
  if (text != nullptr && *text != '\0') {
    message += ": ";
    message += text;
  }
  return message;
}

}  // namespace certbridge::platform::nss
