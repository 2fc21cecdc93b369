// prometheus_parser.h: a small, strict parser of the Prometheus text format (0.0.4) for tests:
// HELP/TYPE lines, metric and label names, label values with their three escapes, values with
// +Inf/-Inf/NaN, every sample typed, families contiguous, series unique, counters non-negative
// and named *_total, histograms with ascending le, cumulative buckets, +Inf = _count, and _sum.
#pragma once

#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace pharos::test {

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Exposition {
  std::string error;  // empty when the text is valid: "line 3: ..."
  std::map<std::string, std::string> types, helps;  // by family
  std::vector<PromSample> samples;

  bool ok() const { return error.empty(); }
  std::optional<double> get(const std::string& name, const std::map<std::string, std::string>& labels = {}) const {
    for (const auto& s : samples)
      if (s.name == name && s.labels == labels) return s.value;
    return std::nullopt;
  }
  // Sum of every series of `name` whose labels include `match`.
  double sum(const std::string& name, const std::map<std::string, std::string>& match = {}) const {
    double total = 0;
    for (const auto& s : samples) {
      if (s.name != name) continue;
      bool all = true;
      for (const auto& [k, v] : match) {
        auto it = s.labels.find(k);
        all = all && it != s.labels.end() && it->second == v;
      }
      if (all) total += s.value;
    }
    return total;
  }
};

namespace prom_detail {

inline bool metric_name(std::string_view s) {
  static const std::regex re("[a-zA-Z_:][a-zA-Z0-9_:]*");
  return std::regex_match(s.begin(), s.end(), re);
}
inline bool label_name(std::string_view s) {
  static const std::regex re("[a-zA-Z_][a-zA-Z0-9_]*");
  return std::regex_match(s.begin(), s.end(), re) && s.substr(0, 2) != "__";
}
inline std::optional<double> value(std::string_view s) {
  if (s == "+Inf" || s == "Inf") return HUGE_VAL;
  if (s == "-Inf") return -HUGE_VAL;
  if (s == "NaN") return std::nan("");
  static const std::regex re("[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?");
  if (!std::regex_match(s.begin(), s.end(), re)) return std::nullopt;
  return std::strtod(std::string(s).c_str(), nullptr);
}
inline std::string series_key(const PromSample& s) {
  std::string k = s.name + "{";
  for (const auto& [n, v] : s.labels) k += n + "=\"" + v + "\",";
  return k + "}";
}

}  // namespace prom_detail

inline Exposition parse_prometheus(std::string_view text) {
  using namespace prom_detail;
  Exposition out;
  std::set<std::string> series, closed_families, sampled;
  std::string current_family;
  int line_no = 0;
  auto fail = [&](const std::string& why) {
    out.error = "line " + std::to_string(line_no) + ": " + why;
    return out;
  };
  if (!text.empty() && text.back() != '\n') return fail("text does not end with a newline");
  std::size_t pos = 0;
  while (pos < text.size()) {
    ++line_no;
    const std::size_t eol = text.find('\n', pos);
    const std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty()) continue;
    if (line[0] == '#') {
      const bool help = line.rfind("# HELP ", 0) == 0, type = line.rfind("# TYPE ", 0) == 0;
      if (!help && !type) continue;  // a comment
      const std::string_view rest = line.substr(7);
      const std::size_t sp = rest.find(' ');
      const std::string name(rest.substr(0, sp));
      if (!metric_name(name)) return fail("bad metric name in HELP/TYPE: " + name);
      if (sp == std::string_view::npos) return fail("HELP/TYPE without text");
      const std::string_view arg = rest.substr(sp + 1);
      if (sampled.count(name)) return fail("HELP/TYPE after the samples of " + name);
      if (help) {
        if (out.helps.count(name)) return fail("second HELP for " + name);
        std::string h;
        for (std::size_t i = 0; i < arg.size(); ++i) {
          if (arg[i] != '\\') {
            h += arg[i];
            continue;
          }
          if (++i == arg.size()) return fail("HELP ends in a backslash");
          if (arg[i] == '\\') h += '\\';
          else if (arg[i] == 'n') h += '\n';
          else return fail("bad escape in HELP");
        }
        out.helps[name] = h;
      } else {
        static const std::set<std::string> kTypes = {"counter", "gauge", "histogram", "summary", "untyped"};
        if (!kTypes.count(std::string(arg))) return fail("unknown type " + std::string(arg));
        if (out.types.count(name)) return fail("second TYPE for " + name);
        out.types[name] = std::string(arg);
      }
      if (current_family != name && !current_family.empty()) closed_families.insert(current_family);
      current_family = name;
      continue;
    }
    // A sample: name[{labels}] value [timestamp]
    PromSample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = std::string(line.substr(0, i));
    if (!metric_name(s.name)) return fail("bad metric name: " + s.name);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (true) {
        if (i < line.size() && line[i] == '}') {
          ++i;
          break;
        }
        const std::size_t eq = line.find('=', i);
        if (eq == std::string_view::npos) return fail("label without '='");
        const std::string lname(line.substr(i, eq - i));
        if (!label_name(lname)) return fail("bad label name: " + lname);
        if (s.labels.count(lname)) return fail("label twice: " + lname);
        i = eq + 1;
        if (i >= line.size() || line[i] != '"') return fail("label value not quoted");
        ++i;
        std::string v;
        bool closed = false;
        while (i < line.size()) {
          const char c = line[i++];
          if (c == '"') {
            closed = true;
            break;
          }
          if (c == '\n') return fail("raw newline in a label value");
          if (c != '\\') {
            v += c;
            continue;
          }
          if (i >= line.size()) return fail("label value ends in a backslash");
          const char e = line[i++];
          if (e == '\\') v += '\\';
          else if (e == '"') v += '"';
          else if (e == 'n') v += '\n';
          else return fail(std::string("bad escape \\") + e + " in a label value");
        }
        if (!closed) return fail("unterminated label value");
        s.labels[lname] = v;
        if (i < line.size() && line[i] == ',') {
          ++i;
          if (i < line.size() && line[i] == '}') return fail("trailing comma in labels");
          continue;
        }
        if (i < line.size() && line[i] == '}') continue;
        return fail("expected ',' or '}' after a label");
      }
    }
    if (i >= line.size() || line[i] != ' ') return fail("no space before the value");
    std::string_view rest = line.substr(i + 1);
    const std::size_t sp = rest.find(' ');
    const auto v = value(rest.substr(0, sp));
    if (!v) return fail("bad value: " + std::string(rest.substr(0, sp)));
    if (sp != std::string_view::npos) {
      static const std::regex ts("-?[0-9]+");
      const std::string t(rest.substr(sp + 1));
      if (!std::regex_match(t, ts)) return fail("bad timestamp: " + t);
    }
    s.value = *v;
    // Its family: histograms own name_bucket, name_sum and name_count.
    std::string family = s.name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string sfx = suffix;
      if (s.name.size() > sfx.size() && s.name.compare(s.name.size() - sfx.size(), sfx.size(), sfx) == 0) {
        const std::string base = s.name.substr(0, s.name.size() - sfx.size());
        auto t = out.types.find(base);
        if (t != out.types.end() && t->second == "histogram") family = base;
      }
    }
    auto t = out.types.find(family);
    if (t == out.types.end()) return fail("sample without a TYPE: " + s.name);
    if (closed_families.count(family)) return fail("samples of " + family + " are not together");
    if (current_family != family) return fail("sample of " + family + " under the TYPE of " + current_family);
    if (t->second == "counter") {
      if (s.name.size() < 6 || s.name.compare(s.name.size() - 6, 6, "_total") != 0) return fail("counter not named *_total");
      if (std::isnan(s.value) || s.value < 0) return fail("negative counter");
    }
    if (t->second == "histogram" && s.name == family) return fail("histogram sample without a suffix");
    if (s.name.size() > 7 && s.name.compare(s.name.size() - 7, 7, "_bucket") == 0 && family != s.name) {
      if (!s.labels.count("le")) return fail("bucket without le");
      if (!value(s.labels["le"])) return fail("bad le");
    }
    if (!series.insert(series_key(s)).second) return fail("duplicate series " + series_key(s));
    sampled.insert(family);
    out.samples.push_back(std::move(s));
  }
  // Histograms: per label set without le, buckets ascending and cumulative, ending in +Inf equal
  // to _count, and a _sum.
  for (const auto& [family, type] : out.types) {
    if (type != "histogram") continue;
    std::map<std::string, std::vector<std::pair<double, double>>> buckets;
    std::map<std::string, double> counts;
    std::set<std::string> sums;
    for (const auto& s : out.samples) {
      PromSample k = s;
      k.labels.erase("le");
      k.name = family;
      const std::string key = series_key(k);
      if (s.name == family + "_bucket") buckets[key].push_back({*value(s.labels.at("le")), s.value});
      if (s.name == family + "_count") counts[key] = s.value;
      if (s.name == family + "_sum") sums.insert(key);
    }
    for (const auto& [key, b] : buckets) {
      line_no = 0;
      for (std::size_t j = 1; j < b.size(); ++j) {
        if (!(b[j].first > b[j - 1].first)) return fail(key + ": le not ascending");
        if (b[j].second < b[j - 1].second) return fail(key + ": buckets not cumulative");
      }
      if (b.empty() || !std::isinf(b.back().first)) return fail(key + ": no +Inf bucket");
      if (!counts.count(key) || counts[key] != b.back().second) return fail(key + ": _count differs from +Inf");
      if (!sums.count(key)) return fail(key + ": no _sum");
    }
    for (const auto& [key, c] : counts)
      if (!buckets.count(key)) return fail(key + ": _count without buckets");
  }
  return out;
}

}  // namespace pharos::test
