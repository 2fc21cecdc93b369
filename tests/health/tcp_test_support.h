// tcp_test_support.h: targets for tcp probes on loopback, port 0: plain sockets left to the kernel
// (accepting without answering, refusing, dropping SYNs) and a small server on the test's loop
// (banner, reply, close, reset) that logs what it saw.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>

namespace pharos::test {

class SocketTarget {
 public:
  enum class Kind {
    kListening,     // listen() and never accept: the kernel completes handshakes; nothing is answered
    kClosedPort,    // bound but not listening: the port stays ours and every SYN gets a reset
    kFullBacklog,   // listen(0) with its one queue slot taken: further SYNs are dropped, connects hang
  };
  explicit SocketTarget(Kind kind, const char* ip = "127.0.0.1");
  ~SocketTarget();
  SocketTarget(const SocketTarget&) = delete;
  SocketTarget& operator=(const SocketTarget&) = delete;

  bool ok() const { return port_ != 0; }
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  int filler_ = -1;
  std::uint16_t port_ = 0;
};

struct ServerBehavior {
  std::string banner;               // written on accept
  std::string reply;                // written once the bytes received contain `trigger`
  std::string trigger;              // empty: reply to the first bytes received
  bool close_after_reply = false;   // close (FIN) once the reply is written
  bool reset_on_accept = false;     // reset (RST) right after accepting
};

struct ServerLog {
  int accepted = 0;
  std::string received;             // every byte received, all connections
  std::string peer_ip;              // of the last connection accepted
  int peer_eofs = 0;                // connections the client ended with a FIN
  int peer_resets = 0;              // connections the client ended with a RST
};

class LoopServer {
 public:
  LoopServer(uv_loop_t* loop, ServerBehavior behavior, const char* ip = "127.0.0.1");
  // Closes the listener and every open connection; their memory goes in the close callbacks, so
  // the loop must run afterwards (TestLoop's destructor does).
  ~LoopServer();
  LoopServer(const LoopServer&) = delete;
  LoopServer& operator=(const LoopServer&) = delete;

  bool ok() const;
  std::uint16_t port() const;
  const ServerLog& log() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

// Sockets in TIME_WAIT with `port` at either end (IPv4 and IPv6), from /proc/net/tcp{,6}.
int time_wait_count(std::uint16_t port);

}  // namespace pharos::test
