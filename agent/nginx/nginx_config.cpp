#include "agent/nginx/nginx_config.h"

#include <filesystem>
#include <string_view>
#include <utility>

namespace certbridge::agent {
namespace {

constexpr std::string_view kFileMarker = "# configuration file ";
constexpr int kMaxIncludeDepth = 32;
// Limits nginx itself would never reach with a configuration it accepted, so that a crafted dump
// gets an error instead of exhausting the stack (blocks are parsed recursively) or memory (a file
// included twice by a file included twice by ... doubles at every level).
constexpr int kMaxBlockDepth = 100;
constexpr int kMaxIncludedFiles = 10000;

struct Token {
  std::string text;
  int line = 0;
  bool quoted = false;  // a quoted ";" or "{" is a word, not syntax
};

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// nginx's tokenizer (ngx_conf_read_token) in short: words split on whitespace, ";", "{" and
// "}"; "#" starts a comment at the start of a word; single or double quotes group, with
// backslash escapes; "${name}" stays one word.
std::vector<Token> tokenize(const std::string& text, const std::string& file) {
  std::vector<Token> tokens;
  int line = 1;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
      ++i;
    } else if (isSpace(c) || c == ')') {
      ++i;  // nginx drops a ")" that follows a quoted word, as in: if ($x = "") {
    } else if (c == '#') {
      while (i < text.size() && text[i] != '\n') {
        ++i;
      }
    } else if (c == ';' || c == '{' || c == '}') {
      tokens.push_back({std::string(1, c), line, false});
      ++i;
    } else if (c == '"' || c == '\'') {
      Token token{"", line, true};
      ++i;
      while (i < text.size() && text[i] != c) {
        if (text[i] == '\\' && i + 1 < text.size()) {
          const char next = text[i + 1];
          token.text += next == 'n' ? '\n' : next == 't' ? '\t' : next == 'r' ? '\r' : next;
          i += 2;
          continue;
        }
        if (text[i] == '\n') {
          ++line;
        }
        token.text += text[i++];
      }
      if (i >= text.size()) {
        throw NginxConfigError(file + ":" + std::to_string(token.line) +
                               ": a quoted string is never closed");
      }
      ++i;
      tokens.push_back(std::move(token));
    } else {
      Token token{"", line, false};
      while (i < text.size() && !isSpace(text[i]) && text[i] != ';' &&
             (text[i] != '{' || (!token.text.empty() && token.text.back() == '$')) &&
             (text[i] != '}' || token.text.find("${") != std::string::npos)) {
        if (text[i] == '\\' && i + 1 < text.size()) {
          token.text += text[i + 1];
          i += 2;
          continue;
        }
        token.text += text[i++];
      }
      tokens.push_back(std::move(token));
    }
  }
  return tokens;
}

// One path segment (no "/") against one segment of a glob pattern: "*" (any run of characters),
// "?", and "[a-z]"/"[!x]" classes. Backtracks only to the last "*", so the time is at most the
// product of the lengths, never exponential in the number of stars.
bool matchesGlobSegment(std::string_view pattern, std::string_view text) {
  // The length of the element at the start of `pattern` and whether it matches `c`.
  const auto element = [](std::string_view rest, char c) -> std::pair<std::size_t, bool> {
    if (rest.front() == '?') {
      return {1, true};
    }
    if (rest.front() == '[') {
      const std::size_t close = rest.find(']', 2);
      if (close == std::string_view::npos) {
        return {1, c == '['};
      }
      std::string_view set = rest.substr(1, close - 1);
      const bool negated = set.front() == '!' || set.front() == '^';
      set.remove_prefix(negated ? 1 : 0);
      bool found = false;
      for (std::size_t i = 0; i < set.size(); ++i) {
        if (i + 2 < set.size() && set[i + 1] == '-') {
          found = found || (set[i] <= c && c <= set[i + 2]);
          i += 2;
        } else {
          found = found || set[i] == c;
        }
      }
      return {close + 1, found != negated};
    }
    return {1, rest.front() == c};
  };
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star = std::string_view::npos;  // the last "*" seen, and where its match ends
  std::size_t star_text = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_text = t;
      continue;
    }
    if (p < pattern.size()) {
      const auto [length, matched] = element(pattern.substr(p), text[t]);
      if (matched) {
        p += length;
        ++t;
        continue;
      }
    }
    if (star == std::string_view::npos) {
      return false;
    }
    p = star + 1;
    t = ++star_text;
  }
  while (p < pattern.size() && pattern[p] == '*') {
    ++p;
  }
  return p == pattern.size();
}

// glob(3) as nginx's include uses it: "*" and "?" within one path segment, "[a-z]" and "[!x]"
// classes. Written out because Windows has no fnmatch.
bool matchesGlob(std::string_view pattern, std::string_view text) {
  while (true) {
    const std::size_t pattern_slash = pattern.find('/');
    const std::size_t text_slash = text.find('/');
    if ((pattern_slash == std::string_view::npos) != (text_slash == std::string_view::npos)) {
      return false;
    }
    if (!matchesGlobSegment(pattern.substr(0, pattern_slash), text.substr(0, text_slash))) {
      return false;
    }
    if (pattern_slash == std::string_view::npos) {
      return true;
    }
    pattern.remove_prefix(pattern_slash + 1);
    text.remove_prefix(text_slash + 1);
  }
}

bool isSyntax(const Token& token, char c) {
  return !token.quoted && token.text.size() == 1 && token.text[0] == c;
}

class DumpParser {
 public:
  explicit DumpParser(NginxConfig& config) : config_(config) {}

  std::vector<NginxDirective> parseFile(const std::string& path, int depth) {
    if (depth > kMaxIncludeDepth) {
      throw NginxConfigError(path + ": includes nest deeper than " +
                             std::to_string(kMaxIncludeDepth) + " levels (an include loop?)");
    }
    if (++files_parsed_ > kMaxIncludedFiles) {
      throw NginxConfigError(path + ": more than " + std::to_string(kMaxIncludedFiles) +
                             " files included in all (files that include others repeatedly?)");
    }
    const std::vector<Token> tokens = tokenize(config_.files.at(path), path);
    std::size_t position = 0;
    std::vector<NginxDirective> directives = parseBlock(tokens, position, path, depth, 0);
    return directives;
  }

 private:
  std::vector<NginxDirective> parseBlock(const std::vector<Token>& tokens, std::size_t& position,
                                         const std::string& path, int depth, int nesting) {
    const bool nested = nesting > 0;
    std::vector<NginxDirective> directives;
    while (position < tokens.size()) {
      if (isSyntax(tokens[position], '}')) {
        if (!nested) {
          throw NginxConfigError(path + ":" + std::to_string(tokens[position].line) +
                                 ": unexpected \"}\"");
        }
        ++position;
        return directives;
      }
      NginxDirective directive{.name = tokens[position].text,
                               .arguments = {},
                               .file = path,
                               .line = tokens[position].line,
                               .is_block = false,
                               .children = {}};
      ++position;
      while (position < tokens.size() && !isSyntax(tokens[position], ';') &&
             !isSyntax(tokens[position], '{') && !isSyntax(tokens[position], '}')) {
        directive.arguments.push_back(tokens[position++].text);
      }
      if (position >= tokens.size() || isSyntax(tokens[position], '}')) {
        throw NginxConfigError(directive.where() + ": \"" + directive.name +
                               "\" is not terminated by \";\"");
      }
      if (isSyntax(tokens[position++], '{')) {
        if (nesting >= kMaxBlockDepth) {
          throw NginxConfigError(directive.where() + ": blocks nest deeper than " +
                                 std::to_string(kMaxBlockDepth) + " levels");
        }
        directive.is_block = true;
        directive.children = parseBlock(tokens, position, path, depth, nesting + 1);
      }
      if (directive.name == "include" && !directive.arguments.empty()) {
        for (const std::string& included : matchingFiles(directive.arguments.front())) {
          std::vector<NginxDirective> more = parseFile(included, depth + 1);
          directives.insert(directives.end(), std::make_move_iterator(more.begin()),
                            std::make_move_iterator(more.end()));
        }
        continue;
      }
      directives.push_back(std::move(directive));
    }
    if (nested) {
      throw NginxConfigError(path + ": a block is not closed by \"}\" before the end of the file");
    }
    return directives;
  }

  // The dumped files an include names, in nginx's (sorted) order. A pattern that matches no
  // dumped file included nothing.
  std::vector<std::string> matchingFiles(const std::string& pattern) const {
    const std::string resolved = config_.resolve(pattern);
    std::vector<std::string> matches;
    for (const auto& [path, text] : config_.files) {
      if (path != config_.main_file && matchesGlob(resolved, path)) {
        matches.push_back(path);
      }
    }
    return matches;
  }

  NginxConfig& config_;
  int files_parsed_ = 0;
};

}  // namespace

const NginxDirective* NginxDirective::find(const std::string& child_name) const {
  const NginxDirective* found = nullptr;
  for (const NginxDirective& child : children) {
    if (child.name == child_name) {
      found = &child;
    }
  }
  return found;
}

std::string NginxConfig::resolve(const std::string& path) const {
  if (path.empty() || path.front() == '/') {
    return path;
  }
  return (std::filesystem::path(main_file).parent_path() / path).string();
}

NginxConfig parseNginxDump(const std::string& output) {
  NginxConfig config;
  std::string* current = nullptr;
  std::size_t start = 0;
  while (start < output.size()) {
    std::size_t end = output.find('\n', start);
    end = end == std::string::npos ? output.size() : end + 1;
    const std::string_view line(output.data() + start, end - start);
    if (line.starts_with(kFileMarker) && line.ends_with(":\n")) {
      const std::string path(line.substr(kFileMarker.size(), line.size() - kFileMarker.size() - 2));
      if (config.main_file.empty()) {
        config.main_file = path;
      }
      current = &config.files[path];
    } else if (current != nullptr) {
      current->append(line);
    }
    start = end;
  }
  if (config.main_file.empty()) {
    throw NginxConfigError(
        "the output holds no \"# configuration file NAME:\" line; is the command nginx -T?");
  }
  // nginx -T writes one line feed after each file's text.
  for (auto& [path, text] : config.files) {
    if (text.ends_with('\n')) {
      text.pop_back();
    }
  }
  config.root.name = "main";
  config.root.file = config.main_file;
  config.root.is_block = true;
  config.root.children = DumpParser(config).parseFile(config.main_file, 0);
  return config;
}

}  // namespace certbridge::agent
