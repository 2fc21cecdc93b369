// link_check.cc: one link probe as a ProbeRun: read operstate, then carrier, off the loop; decide.
#include "health/link_check.h"

#include <functional>
#include <string>
#include <utility>

#include "health/probe_run.h"
#include "health/small_file.h"

namespace pharos::health {
namespace {

constexpr std::size_t kReadLimit = 64;
constexpr std::size_t kMaxInterfaceName = 15;   // IFNAMSIZ less the terminating NUL

// The name becomes a path under /sys/class/net: no separators, no "." or "..", no control bytes.
bool valid_interface_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxInterfaceName || name == "." || name == "..") return false;
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '/' || u <= 0x20 || u == 0x7f) return false;
  }
  return true;
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.remove_suffix(1);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return s;
}

class LinkRun final : public ProbeRun {
 public:
  LinkRun(uv_loop_t* loop, const CheckSpec& spec, const LinkParams* params, ProbeCallback&& done, ProbeRun** slot)
      : ProbeRun(loop, spec.timeout, std::move(done), slot),
        interface_(params != nullptr ? params->interface : std::string{}) {}

 private:
  void begin() override {
    if (!valid_interface_name(interface_)) {
      return report(false, "invalid interface name \"" + printable(interface_, 40) + "\"");
    }
    read("operstate", [this](int status, std::string data) {
      operstate_status_ = status;
      operstate_ = std::move(data);
      if (status == UV_ENOENT) return report(false, "no such interface " + interface_);
      read("carrier", [this](int carrier_status, std::string carrier) {
        const ProbeResult r = link_verdict(interface_, operstate_status_, operstate_, carrier_status, carrier);
        report(r.up, r.reason);
      });
    });
  }
  void on_timeout() override { report(false, timeout_reason("reading the state of " + interface_)); }
  void on_end() override {}

  // Reads one attribute; `then` runs only while the run is live. The hold covers the threadpool
  // requests, which cannot be taken back once queued.
  void read(const char* attribute, std::function<void(int, std::string)> then) {
    const std::string path = "/sys/class/net/" + interface_ + "/" + attribute;
    hold();
    const int r = reader_.start(loop(), path, kReadLimit, [this, then = std::move(then)](int status, std::string data) {
      if (!ended()) then(status, std::move(data));
      release();
    });
    if (r < 0) {
      release();
      report(false, "cannot read " + path + ": " + uv_strerror(r));
    }
  }

  const std::string interface_;
  int operstate_status_ = 0;
  std::string operstate_;
  SmallFileRead reader_;
};

class LinkProber final : public RunProber {
 public:
  LinkProber(uv_loop_t* loop, const CheckSpec& spec) : loop_(loop), spec_(spec) {}

 private:
  ProbeRun* make_run(ProbeCallback&& done, ProbeRun** slot) override {
    return new LinkRun(loop_, spec_, std::get_if<LinkParams>(&spec_.params), std::move(done), slot);
  }

  uv_loop_t* loop_;
  const CheckSpec spec_;
};

}  // namespace

std::unique_ptr<Prober> make_link_prober(uv_loop_t* loop, const CheckSpec& spec) {
  return std::make_unique<LinkProber>(loop, spec);
}

ProbeResult link_verdict(std::string_view interface, int operstate_status, std::string_view operstate,
                         int carrier_status, std::string_view carrier) {
  const std::string name(interface);
  if (operstate_status == UV_ENOENT || carrier_status == UV_ENOENT) return {false, "no such interface " + name, {}};
  if (operstate_status < 0) return {false, "cannot read operstate of " + name + ": " + uv_strerror(operstate_status), {}};
  const std::string state(trimmed(operstate));
  if (carrier_status == UV_EINVAL) return {false, name + " is administratively down", {}};
  if (carrier_status < 0) return {false, "cannot read carrier of " + name + ": " + uv_strerror(carrier_status), {}};
  const std::string_view value = trimmed(carrier);
  if (value == "0") return {false, "no carrier on " + name + " (operstate " + state + ")", {}};
  if (value != "1") return {false, "unexpected carrier \"" + printable(value, 20) + "\" on " + name, {}};
  if (state == "down" || state == "lowerlayerdown" || state == "notpresent") {
    return {false, name + " has carrier but operstate " + state, {}};
  }
  return {true, "carrier up (operstate " + state + ")", {}};
}

}  // namespace pharos::health
