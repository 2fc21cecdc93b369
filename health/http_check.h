// http_check.h: the http and https checkers: one request per probe through the loop's CurlMulti,
// judged on the status code and the start of the body.
//
//   CurlMulti curl{loop};
//   auto prober = make_http_prober(loop, curl, resolver, spec);  // spec.params holds HttpParams
//   prober->start([](ProbeResult&& r) { /* r.up, r.reason: "HTTP 500 (expected 200)" */ });
//
// Behaviour, in one place:
//  - Names are resolved by `resolver` (c-ares), never by curl: every request goes to the resolved
//    address through CURLOPT_CONNECT_TO with an IP literal, so curl has nothing to look up.
//    CONNECT_TO rather than CURLOPT_RESOLVE because RESOLVE entries go, permanently, into the DNS
//    cache that every transfer of a multi handle shares: two checks of one name at two addresses
//    (probe the internal IP, serve the public one) would overwrite each other's entry, while
//    CONNECT_TO belongs to its own transfer.
//  - Every probe opens a new connection and does a full TLS handshake (no connection reuse, no
//    session resumption): the check must prove that a client can connect and verify now.
//  - spec.timeout bounds the whole probe: resolution, connection, TLS, every redirect hop and the
//    complete response. The reason is then "timeout after <timeout> ms".
//  - sni: curl is given the URL with its host replaced by `sni`, which becomes the TLS server name,
//    the name the certificate is verified against and the default Host header; the connection
//    still goes to the address of the configured URL's host.
//  - Redirects are not followed unless follow_redirects; then we follow them ourselves (at most 5),
//    resolving each new host through `resolver`. A hop to the same scheme, host and port keeps the
//    address, sni and Host override; a hop elsewhere drops them. 303 turns the method into GET.
//  - The body is read to its end (a body that stalls is a timeout), and its first 64 KiB are kept
//    for body_contains and body_regex.
//  - body_regex is ECMAScript (std::regex), compiled once per prober and matched in one linear pass
//    (libstdc++'s polynomial mode): the default backtracking matcher recurses once per character
//    and crashes on ".*" over 64 KiB, so a target's body could take the daemon down.
//    Back-references are therefore refused; lookaheads work but cost a pass per position.
//  - An unusable spec (bad URL, bad regex, scheme not matching the type) does not throw: the
//    prober reports down with the problem as its reason; http_check_error() tells validators.
#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "health/check.h"
#include "health/curl_multi.h"
#include "health/prober.h"
#include "health/resolver.h"

namespace pharos::health {

inline constexpr std::size_t kHttpBodyKept = 64 * 1024;
inline constexpr int kHttpMaxRedirects = 5;

// spec.type is kHttp or kHttps and spec.params holds HttpParams. `loop`, `curl` and `resolver`
// must outlive the prober.
std::unique_ptr<Prober> make_http_prober(uv_loop_t* loop, CurlMulti& curl, Resolver& resolver,
                                         const CheckSpec& spec);

// Empty when `spec` is a usable http/https check, else what is wrong with it, e.g.
// `body_regex: back-references are not supported`.
std::string http_check_error(const CheckSpec& spec);

}  // namespace pharos::health
