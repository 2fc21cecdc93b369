// probe_services.h: the real probers and what they share on the control loop: one c-ares resolver
// for check hostnames and one libcurl multi handle for every HTTP(S) check.
//
//   ProbeServices services(loop);
//   HealthEngine engine(loop, services);
//   ...
//   engine.stop(); services.close();   // then run the loop until the close callbacks are done
#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "health/engine.h"

namespace pharos::health {

class AresResolver;
class CurlMulti;

class ProbeServices : public ProberFactory {
 public:
  explicit ProbeServices(uv_loop_t* loop);
  ~ProbeServices() override;

  std::unique_ptr<Prober> make(const CheckSpec& spec, std::string& error) override;
  // Closes the shared handles; no prober may be started afterwards.
  void close();

 private:
  uv_loop_t* loop_;
  std::unique_ptr<AresResolver> resolver_;
  std::unique_ptr<CurlMulti> curl_;
};

}  // namespace pharos::health
