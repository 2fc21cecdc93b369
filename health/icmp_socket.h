// icmp_socket.h: one ICMP echo socket per (loop, family, source address), shared by every ICMP and
// gateway prober on that loop, so ten thousand ping checks do not mean ten thousand raw sockets
// each woken by every reply. An unprivileged ping socket (SOCK_DGRAM) where
// net.ipv4.ping_group_range allows it, a raw socket otherwise; replies reach the probe that sent
// the request by identifier and sequence.
//
//   std::string error;
//   auto socket = IcmpSocket::get(loop, AF_INET, "", error);   // "ICMP needs CAP_NET_RAW or ..."
//   int key = socket->send(to, to_len, this, error);           // this: an IcmpSocket::Listener
//   ... on_echo_reply() / on_echo_error("host unreachable (from 192.0.2.254)") ...
//   socket->forget(key, this);                                 // always, when the probe ends
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

namespace pharos::health {

class IcmpSocket {
 public:
  class Listener {
   public:
    virtual void on_echo_reply() = 0;
    // An ICMP error about our request came back: unreachable, time exceeded.
    virtual void on_echo_error(const std::string& reason) = 0;

   protected:
    ~Listener() = default;
  };

  // The socket shared on this loop, opened on first use; nullptr with `error` when ICMP is not
  // allowed. The socket belongs to the network namespace of the thread that opened it.
  static std::shared_ptr<IcmpSocket> get(uv_loop_t* loop, int family, const std::string& source_address,
                                         std::string& error);

  ~IcmpSocket();
  IcmpSocket(const IcmpSocket&) = delete;
  IcmpSocket& operator=(const IcmpSocket&) = delete;

  // Sends one echo request to `to`. `listener` hears about it until forget(). Returns the key of
  // this request, or -1 with `error` set.
  int send(const sockaddr* to, socklen_t len, Listener* listener, std::string& error);
  // Stops listening for `key` (a no-op when already answered or forgotten).
  void forget(int key, const Listener* listener);

  bool raw() const { return raw_; }
  int family() const { return family_; }
  std::size_t in_flight() const { return pending_.size(); }

 private:
  struct Pending {
    Listener* listener;
    sockaddr_storage to;
  };
  struct Poll;

  IcmpSocket(uv_loop_t* loop, int family, int fd, bool raw);
  static void on_poll(uv_poll_t* handle, int status, int events);
  void receive();
  void receive_errors();
  void dispatch(const std::uint8_t* icmp, std::size_t len, const sockaddr_storage& from);
  void dispatch_error(const std::uint8_t* icmp, std::size_t len, const sockaddr_storage& from);

  int family_;
  bool raw_;
  Poll* poll_;                                   // owns the fd; freed after its close callback
  std::uint16_t ident_;                          // raw sockets: ours among all replies on the host
  std::uint16_t next_seq_;
  std::array<std::uint8_t, 8> cookie_{};         // in every payload: a reply to someone else's ping is not ours
  std::unordered_map<std::uint16_t, Pending> pending_;   // by sequence
};

}  // namespace pharos::health
