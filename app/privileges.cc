// privileges.cc: account lookup, state_dir preparation as the target user, and the one-way switch.
#include "app/privileges.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "scenario/state_file.h"

namespace pharos::app {
namespace {

// Account database entries need a caller-sized buffer; grow it on ERANGE, within reason.
constexpr std::size_t kFirstBuffer = 1024;
constexpr std::size_t kMaxBuffer = 1 << 20;
constexpr int kMaxGroups = 65536;
constexpr std::size_t kMaxDirEntries = 10'000;  // state_dir holds a handful of files

std::string errno_text(int e) { return std::strerror(e); }

template <typename Entry, typename Lookup>
int lookup(Lookup fn, Entry& entry, std::unique_ptr<char[]>& buf, Entry*& found) {
  for (std::size_t size = kFirstBuffer; size <= kMaxBuffer; size *= 2) {
    buf = std::make_unique<char[]>(size);
    const int rc = fn(&entry, buf.get(), size, &found);
    if (rc != ERANGE) return rc;
  }
  return ERANGE;
}

std::string who(const RunAs& r) { return "user " + r.user + " (uid " + std::to_string(r.uid) + ")"; }

Error sys_error(const std::string& what) { return Error{"", "", what + ": " + errno_text(errno)}; }

// Runs `probe` with the effective ids of `r`, then becomes root again. Only while we are root.
template <typename Probe>
Result<void> as_user(const RunAs& r, Probe probe) {
  const gid_t saved_egid = getegid();
  const int n = getgroups(0, nullptr);
  std::vector<gid_t> saved_groups(n > 0 ? static_cast<std::size_t>(n) : 0);
  if (n > 0 && getgroups(n, saved_groups.data()) < 0) return sys_error("getgroups");
  if (setgroups(r.groups.size(), r.groups.data()) != 0) return sys_error("setgroups");
  if (setegid(r.gid) != 0 || seteuid(r.uid) != 0) {
    const Error e = sys_error("cannot take the ids of " + who(r));
    (void)seteuid(0);
    (void)setegid(saved_egid);
    (void)setgroups(saved_groups.size(), saved_groups.data());
    return e;
  }
  Result<void> out = probe();
  // Back to root: if this fails, going on as a half-switched process would be wrong.
  if (seteuid(0) != 0 || setegid(saved_egid) != 0 || setgroups(saved_groups.size(), saved_groups.data()) != 0) {
    return sys_error("cannot become root again after checking state_dir");
  }
  return out;
}

Result<void> check_writable(const std::string& dir, const RunAs& r) {
  const std::string fix = ": give it to that user (chown -R " + r.user + ": " + dir + ")";
  if (faccessat(AT_FDCWD, dir.c_str(), W_OK | X_OK, AT_EACCESS) != 0) {
    return Error{dir, "", "state_dir is not writable by " + who(r) + fix};
  }
  std::unique_ptr<DIR, int (*)(DIR*)> d(opendir(dir.c_str()), &closedir);
  if (!d) return Error{dir, "", "state_dir cannot be listed by " + who(r) + fix};
  std::size_t seen = 0;
  for (dirent* e = readdir(d.get()); e != nullptr && seen < kMaxDirEntries; e = readdir(d.get()), ++seen) {
    if (e->d_name[0] == '.') continue;
    const std::string path = dir + "/" + e->d_name;
    struct stat st {};
    if (fstatat(AT_FDCWD, path.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
    // state.json is replaced by rename, but audit.jsonl is appended to and reopened in place.
    if (faccessat(AT_FDCWD, path.c_str(), R_OK | W_OK, AT_EACCESS) != 0) {
      return Error{path, "", "is not writable by " + who(r) + fix};
    }
  }
  return {};
}

}  // namespace

std::optional<Error> resolve_run_as(RunAs& r) {
  passwd pw{};
  passwd* pw_found = nullptr;
  std::unique_ptr<char[]> pw_buf;
  const int prc = lookup([&](passwd* e, char* b, std::size_t n, passwd** f) { return getpwnam_r(r.user.c_str(), e, b, n, f); },
                         pw, pw_buf, pw_found);
  if (pw_found == nullptr) {
    return Error{"", "/user", prc == 0 ? "no such user \"" + r.user + "\"" : "cannot look up user \"" + r.user + "\": " + errno_text(prc)};
  }
  if (pw.pw_uid == 0) return Error{"", "/user", "\"" + r.user + "\" is root: name an unprivileged user"};
  r.uid = pw.pw_uid;
  r.gid = pw.pw_gid;
  if (!r.group.empty()) {
    group gr{};
    group* gr_found = nullptr;
    std::unique_ptr<char[]> gr_buf;
    const int grc = lookup([&](group* e, char* b, std::size_t n, group** f) { return getgrnam_r(r.group.c_str(), e, b, n, f); },
                           gr, gr_buf, gr_found);
    if (gr_found == nullptr) {
      return Error{"", "/group", grc == 0 ? "no such group \"" + r.group + "\"" : "cannot look up group \"" + r.group + "\": " + errno_text(grc)};
    }
    if (gr.gr_gid == 0) return Error{"", "/group", "\"" + r.group + "\" is root's group: name an unprivileged group"};
    r.gid = gr.gr_gid;
  }
  int n = 32;
  r.groups.assign(static_cast<std::size_t>(n), 0);
  while (getgrouplist(r.user.c_str(), r.gid, r.groups.data(), &n) < 0) {
    if (n <= static_cast<int>(r.groups.size()) || n > kMaxGroups) return Error{"", "/user", "cannot list the groups of \"" + r.user + "\""};
    r.groups.assign(static_cast<std::size_t>(n), 0);
  }
  r.groups.resize(static_cast<std::size_t>(n));
  for (gid_t g : r.groups) {
    if (g == 0) return Error{"", "/user", "\"" + r.user + "\" is a member of root's group (gid 0): name an unprivileged user"};
  }
  return std::nullopt;
}

Result<DropPlan> plan_drop(const RunAs& r) {
  if (!r.enabled()) return DropPlan::kNone;
  if (geteuid() == 0) return DropPlan::kSwitch;
  if (getuid() == r.uid && geteuid() == r.uid && getgid() == r.gid && getegid() == r.gid) return DropPlan::kAlreadyThatUser;
  return Error{"", "/user", "pharosd runs as uid " + std::to_string(geteuid()) + ", not root: it cannot become " + who(r) +
                                "; start it as root or remove \"user\""};
}

Result<void> prepare_state_dir(const std::string& dir, const RunAs& r) {
  Result<DropPlan> plan = plan_drop(r);
  if (!plan) return plan.error();
  if (dir.empty() || *plan != DropPlan::kSwitch) return {};
  struct stat st {};
  const bool existed = stat(dir.c_str(), &st) == 0;
  if (auto e = scenario::make_state_dir(dir)) return *e;
  // A directory we create is the user's; one that was there is the operator's, checked below.
  if (!existed && chown(dir.c_str(), r.uid, r.gid) != 0) return Error{dir, "", "cannot give state_dir to " + who(r) + ": " + errno_text(errno)};
  return as_user(r, [&] { return check_writable(dir, r); });
}

Result<void> drop_privileges(const RunAs& r) {
  Result<DropPlan> plan = plan_drop(r);
  if (!plan) return plan.error();
  if (*plan != DropPlan::kSwitch) return {};
  // Groups first, then gid: both need root, which setresuid gives up.
  if (setgroups(r.groups.size(), r.groups.data()) != 0) return sys_error("setgroups for " + who(r));
  if (setresgid(r.gid, r.gid, r.gid) != 0) return sys_error("setresgid(" + std::to_string(r.gid) + ")");
  if (setresuid(r.uid, r.uid, r.uid) != 0) return sys_error("setresuid(" + std::to_string(r.uid) + ")");
  // Trust, but verify: a kernel or libc that left a way back to root must stop us here.
  if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0 || setegid(0) == 0) {
    return Error{"", "", "root could be regained after switching to " + who(r)};
  }
  uid_t ru = 0, eu = 0, su = 0;
  gid_t rg = 0, eg = 0, sg = 0;
  if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 || ru != r.uid || eu != r.uid || su != r.uid ||
      rg != r.gid || eg != r.gid || sg != r.gid) {
    return Error{"", "", "the switch to " + who(r) + " did not take"};
  }
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return sys_error("PR_SET_DUMPABLE");
  return {};
}

}  // namespace pharos::app
