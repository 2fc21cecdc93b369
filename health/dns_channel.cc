// dns_channel.cc: the shared channels, their registry, and query IDs. ares_send takes the ID from
// the query bytes, so with several probers on one channel we pick IDs that are unique on it.
#include "health/dns_channel.h"

#include <map>
#include <mutex>
#include <tuple>

namespace pharos::health {

struct DnsChannel::Query {
  DnsChannel* channel;
  Listener* listener;   // nullptr once abandoned
  std::uint16_t id;
};

namespace {

using RegistryKey = std::tuple<uv_loop_t*, std::string, std::string, Millis::rep>;
std::mutex registry_mutex;
std::map<RegistryKey, std::weak_ptr<DnsChannel>>& registry() {
  static auto* channels = new std::map<RegistryKey, std::weak_ptr<DnsChannel>>;
  return *channels;
}

}  // namespace

std::shared_ptr<DnsChannel> DnsChannel::get(uv_loop_t* loop, const std::string& server,
                                            const std::string& source_address, Millis timeout, std::string& error) {
  const std::lock_guard lock(registry_mutex);
  auto& entry = registry()[RegistryKey{loop, server, source_address, timeout.count()}];
  if (auto existing = entry.lock()) return existing;
  AresConfig config;
  config.timeout = timeout;
  config.tries = 1;
  // SERVFAIL, REFUSED and NOTIMP are answers to report, not reasons for c-ares to give up on the
  // server and retry.
  config.flags = ARES_FLAG_NOCHECKRESP;
  config.servers = server;
  config.local_address = source_address;
  AresUvPtr ares = AresUv::create(loop, config, error);
  if (!ares) return nullptr;
  std::shared_ptr<DnsChannel> channel(new DnsChannel(std::move(ares)));
  entry = channel;
  return channel;
}

DnsChannel::~DnsChannel() {
  {
    const std::lock_guard lock(registry_mutex);
    std::erase_if(registry(), [](const auto& kv) { return kv.second.expired(); });
  }
  ares_.reset();   // queries still in flight end with ARES_EDESTRUCTION and are freed
}

DnsChannel::Query* DnsChannel::send(std::vector<unsigned char>& query, Listener* listener) {
  std::uint16_t id = static_cast<std::uint16_t>(rng_());
  for (int tries = 0; ids_.contains(id); ++tries) {
    if (tries == 0xFFFF) {
      listener->on_dns_answer(ARES_ENOMEM, nullptr, 0);
      return nullptr;
    }
    id = static_cast<std::uint16_t>(rng_());
  }
  ids_.insert(id);
  query[0] = static_cast<unsigned char>(id >> 8);
  query[1] = static_cast<unsigned char>(id & 0xFF);
  auto* q = new Query{this, listener, id};
  sending_ = q;
  answered_in_send_ = false;
  ares_->run([&](ares_channel channel) {
    ares_send(channel, query.data(), static_cast<int>(query.size()), &DnsChannel::on_answer, q);
  });
  sending_ = nullptr;
  return answered_in_send_ ? nullptr : q;
}

void DnsChannel::abandon(Query* query) {
  if (query != nullptr) query->listener = nullptr;
}

void DnsChannel::on_answer(void* arg, int status, int /*timeouts*/, unsigned char* answer, int length) {
  std::unique_ptr<Query> query(static_cast<Query*>(arg));
  // Destruction runs inside ~DnsChannel, after every listener has gone: touch nothing.
  if (status == ARES_EDESTRUCTION) return;
  DnsChannel* self = query->channel;
  self->ids_.erase(query->id);
  if (query.get() == self->sending_) self->answered_in_send_ = true;
  if (query->listener != nullptr) query->listener->on_dns_answer(status, answer, length);
}

}  // namespace pharos::health
