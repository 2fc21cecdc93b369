// api_client.cc: libcurl easy calls for pharosctl, with words for the failures an operator meets
// (the daemon is not running, the address is wrong, it does not answer).
#include "app/api_client.h"

#include <curl/curl.h>

#include <cctype>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

namespace pharos::app {
namespace {

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

std::size_t on_data(char* data, std::size_t size, std::size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

std::string lower_first(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

}  // namespace

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::optional<std::string> read_token_file(const std::string& path, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot read token file " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string t = ss.str();
  const auto space = [](unsigned char c) { return std::isspace(c) != 0; };
  while (!t.empty() && space(static_cast<unsigned char>(t.back()))) t.pop_back();
  std::size_t start = 0;
  while (start < t.size() && space(static_cast<unsigned char>(t[start]))) ++start;
  t.erase(0, start);
  if (t.empty()) {
    error = "token file " + path + " is empty";
    return std::nullopt;
  }
  return t;
}

ApiCall call_api(const ApiClientOptions& options, std::string_view method, std::string_view path, std::string_view body) {
  ApiCall out;
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) {
    out.failure = "cannot initialise libcurl";
    return out;
  }
  const std::string url = "http://" + options.server + std::string(path);
  const std::string verb(method);
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  const auto add_header = [&](const std::string& h) { headers.reset(curl_slist_append(headers.release(), h.c_str())); };
  if (!options.token.empty()) add_header("Authorization: Bearer " + options.token);
  add_header("Accept: application/json");
  add_header("Expect:");  // bodies are small: no 100-continue round trip
  if (!body.empty()) add_header("Content-Type: application/json");
  CURL* c = curl.get();
  char errbuf[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, verb.c_str());
  if (!body.empty() || verb == "POST") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &out.body);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, options.timeout_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");  // the control API is local: never through http_proxy
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    long os_errno = 0;
    curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
    std::string why;
    if (rc == CURLE_COULDNT_CONNECT && os_errno != 0) why = lower_first(std::strerror(static_cast<int>(os_errno)));
    else if (rc == CURLE_OPERATION_TIMEDOUT) why = "no answer within " + std::to_string(options.timeout_ms / 1000) + " s";
    else why = lower_first(errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
    out.failure = "cannot connect to " + options.server + ": " + why + "; is pharosd running with \"control\" configured?";
    return out;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out.status);
  return out;
}

}  // namespace pharos::app
