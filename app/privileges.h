// privileges.h: becoming an unprivileged user after binding port 53. The account is looked up when
// the configuration is read (so --check catches a typo), state_dir is prepared for it while we are
// still root, and the switch happens once every socket is bound, for good.
//
//   RunAs r;  r.user = "pharos";
//   if (auto e = resolve_run_as(r)) fail(e->where, e->message);        // uid, gid, groups
//   if (auto s = prepare_state_dir("/var/lib/pharos", r); !s) ...      // as root, before any write
//   ... bind every socket ...
//   if (auto s = drop_privileges(r); !s) exit(1);                      // groups, gid, uid; verified
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "dns/result.h"

namespace pharos::app {

// "user" and "group" of pharos.json, resolved.
struct RunAs {
  std::string user;            // empty: stay who we are
  std::string group;           // empty: the user's primary group
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;   // every group the user is a member of (as initgroups gives), with gid

  bool enabled() const { return !user.empty(); }
  bool operator==(const RunAs&) const = default;
};

// Fills uid, gid and groups from the system's account database. The error's `where` is "/user" or
// "/group" (its file is empty: the caller knows it).
std::optional<Error> resolve_run_as(RunAs& r);

// What drop_privileges() will do here: nothing (no "user"), nothing because we already are that
// user, or switch (we are root).
enum class DropPlan { kNone, kAlreadyThatUser, kSwitch };
Result<DropPlan> plan_drop(const RunAs& r);

// As root, before anything writes into state_dir: creates it (0750, owned by the user) when missing,
// then checks, as the user, that it and every file in it can be written. The error says what to
// change. Does nothing unless plan_drop() says kSwitch.
Result<void> prepare_state_dir(const std::string& dir, const RunAs& r);

// Sets the supplementary groups, then real, effective and saved gid, then uid; verifies that root
// cannot be regained and marks the process non-dumpable (it has been root and holds API tokens:
// other processes of the same user must not ptrace it or read its memory). Applies to every thread
// (glibc broadcasts set*id). An error means the process is in an unknown state and must exit.
Result<void> drop_privileges(const RunAs& r);

}  // namespace pharos::app
