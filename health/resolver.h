// resolver.h: hostname -> address for checks, on the control loop, through c-ares: a check never
// blocks the loop on name resolution. IP literals answer at once (still asynchronously).
#pragma once

#include <sys/socket.h>

#include <functional>
#include <memory>
#include <string>

namespace pharos::health {

struct ResolvedAddress {
  sockaddr_storage addr{};   // port set to the requested port
  socklen_t len = 0;
  std::string error;         // set when resolution failed; addr is then unset
  bool ok() const { return error.empty(); }
};

class Resolver {
 public:
  using Done = std::function<void(ResolvedAddress&&)>;
  virtual ~Resolver() = default;
  // family: AF_UNSPEC, AF_INET or AF_INET6. `done` runs on the loop thread, never inside resolve().
  // The returned token cancels the request when destroyed: keep it as long as you want the answer.
  virtual std::shared_ptr<void> resolve(const std::string& host, std::uint16_t port, int family, Done done) = 0;
};

}  // namespace pharos::health
