// json_check: validates one JSON document (RFC 8259, strictly) on stdin and checks assertions
// about it, so the `ckpt --json` tests need neither python3 nor jq (a minimal Debian has neither).
//
//   ckpt info f.h5 --json | json_check 'argv[0]' 'status=complete' 'entries#=3' 'cwd~/tmp'
//
// An assertion is PATH (exists), PATH=TEXT (a string equals TEXT, or a number/true/false/null is
// written exactly TEXT), PATH~TEXT (a string contains TEXT), or PATH#=N (an array or object has N
// elements). PATH is keys and [index]es: versions[1].status, entries[0].ranks[1].extents[0]; an
// empty PATH is the whole document. Exit 0 if valid and every assertion holds, 1 otherwise.
// `json_check --get PATH` prints the value at PATH (a string without quotes) for a shell script.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

struct Value {
    enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
    std::string text;  ///< a string's decoded content, or a scalar exactly as written
    std::vector<std::pair<std::string, Value>> members;
    std::vector<Value> items;
};

class Parser {
public:
    explicit Parser(std::string s) : s_(std::move(s)) {}

    Value document() {
        Value v = value();
        blank();
        if (i_ != s_.size()) fail("trailing characters after the document");
        return v;
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw std::runtime_error("invalid JSON at byte " + std::to_string(i_) + ": " + what);
    }
    void blank() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
    }
    bool eat(char c) {
        blank();
        if (i_ < s_.size() && s_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    void expect(char c) {
        if (!eat(c)) fail(std::string("expected '") + c + "'");
    }
    bool literal(const char* word) {
        const std::string w = word;
        if (s_.compare(i_, w.size(), w) != 0) return false;
        i_ += w.size();
        return true;
    }

    Value value() {
        blank();
        if (i_ >= s_.size()) fail("unexpected end of input");
        Value v;
        const char c = s_[i_];
        if (c == '{') {
            ++i_;
            v.kind = Value::Object;
            if (eat('}')) return v;
            do {
                blank();
                if (i_ >= s_.size() || s_[i_] != '"') fail("expected a key string");
                std::string key = string();
                expect(':');
                v.members.emplace_back(std::move(key), value());
            } while (eat(','));
            expect('}');
        } else if (c == '[') {
            ++i_;
            v.kind = Value::Array;
            if (eat(']')) return v;
            do v.items.push_back(value());
            while (eat(','));
            expect(']');
        } else if (c == '"') {
            v.kind = Value::String;
            v.text = string();
        } else if (literal("true") || literal("false")) {
            v.kind = Value::Bool;
            v.text = s_[i_ - 1] == 'e' && s_[i_ - 2] == 'u' ? "true" : "false";
        } else if (literal("null")) {
            v.kind = Value::Null;
            v.text = "null";
        } else {
            v.kind = Value::Number;
            v.text = number();
        }
        return v;
    }

    std::string number() {
        const std::size_t start = i_;
        auto digits = [&] {
            const std::size_t d = i_;
            while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
            if (i_ == d) fail("expected a digit");
        };
        if (i_ < s_.size() && s_[i_] == '-') ++i_;
        if (i_ < s_.size() && s_[i_] == '0')
            ++i_;  // no leading zeros
        else
            digits();
        if (i_ < s_.size() && s_[i_] == '.') {
            ++i_;
            digits();
        }
        if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
            ++i_;
            if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
            digits();
        }
        return s_.substr(start, i_ - start);
    }

    static void put_utf8(std::string& out, unsigned cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xc0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xe0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        } else {
            out += static_cast<char>(0xf0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        }
    }

    unsigned hex4() {
        if (i_ + 4 > s_.size()) fail("short \\u escape");
        unsigned v = 0;
        for (int k = 0; k < 4; ++k) {
            const char c = s_[i_++];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= static_cast<unsigned>(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= static_cast<unsigned>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                v |= static_cast<unsigned>(c - 'A' + 10);
            else
                fail("bad hex digit in \\u escape");
        }
        return v;
    }

    std::string string() {
        ++i_;  // the opening quote
        std::string out;
        for (;;) {
            if (i_ >= s_.size()) fail("unterminated string");
            const auto c = static_cast<unsigned char>(s_[i_]);
            if (c == '"') {
                ++i_;
                return out;
            }
            if (c < 0x20) fail("control character in a string");
            if (c == '\\') {
                ++i_;
                if (i_ >= s_.size()) fail("unterminated escape");
                const char e = s_[i_++];
                switch (e) {
                    case '"': out += '"'; break;
                    case '\\': out += '\\'; break;
                    case '/': out += '/'; break;
                    case 'b': out += '\b'; break;
                    case 'f': out += '\f'; break;
                    case 'n': out += '\n'; break;
                    case 'r': out += '\r'; break;
                    case 't': out += '\t'; break;
                    case 'u': {
                        unsigned cp = hex4();
                        if (cp >= 0xd800 && cp <= 0xdbff) {
                            if (!literal("\\u")) fail("unpaired surrogate");
                            const unsigned low = hex4();
                            if (low < 0xdc00 || low > 0xdfff) fail("unpaired surrogate");
                            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                            fail("unpaired surrogate");
                        }
                        put_utf8(out, cp);
                        break;
                    }
                    default: fail(std::string("bad escape \\") + e);
                }
                continue;
            }
            // Raw UTF-8: check the sequence is well formed.
            std::size_t n = c < 0x80                 ? 1
                            : c >= 0xc2 && c <= 0xdf ? 2
                            : c >= 0xe0 && c <= 0xef ? 3
                            : c >= 0xf0 && c <= 0xf4 ? 4
                                                     : 0;
            if (n == 0 || i_ + n > s_.size()) fail("invalid UTF-8");
            for (std::size_t k = 1; k < n; ++k)
                if ((static_cast<unsigned char>(s_[i_ + k]) & 0xc0) != 0x80) fail("invalid UTF-8");
            out.append(s_, i_, n);
            i_ += n;
        }
    }

    std::string s_;
    std::size_t i_ = 0;
};

/// The value at PATH, or null if there is none.
const Value* lookup(const Value& root, const std::string& path) {
    const Value* v = &root;
    std::size_t i = 0;
    while (i < path.size()) {
        if (path[i] == '.') ++i;
        if (i < path.size() && path[i] == '[') {
            const std::size_t close = path.find(']', i);
            if (close == std::string::npos || v->kind != Value::Array) return nullptr;
            const std::size_t index = std::stoul(path.substr(i + 1, close - i - 1));
            if (index >= v->items.size()) return nullptr;
            v = &v->items[index];
            i = close + 1;
            continue;
        }
        std::size_t end = i;
        while (end < path.size() && path[end] != '.' && path[end] != '[') ++end;
        const std::string key = path.substr(i, end - i);
        if (v->kind != Value::Object) return nullptr;
        const Value* next = nullptr;
        for (const auto& m : v->members)
            if (m.first == key) next = &m.second;
        if (!next) return nullptr;
        v = next;
        i = end;
    }
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    Value doc;
    try {
        doc = Parser(input).document();
    } catch (const std::exception& e) {
        std::cerr << "json_check: " << e.what() << "\n--- input ---\n" << input << "\n";
        return 1;
    }
    if (argc == 3 && std::string(argv[1]) == "--get") {
        const Value* v = lookup(doc, argv[2]);
        if (!v || v->kind == Value::Array || v->kind == Value::Object) {
            std::cerr << "json_check: --get " << argv[2] << ": no scalar there\n--- input ---\n" << input << "\n";
            return 1;
        }
        std::cout << v->text << "\n";
        return 0;
    }
    int failures = 0;
    for (int a = 1; a < argc; ++a) {
        const std::string arg = argv[a];
        std::string path = arg, op, want;
        const std::size_t at = arg.find_first_of("#=~");
        if (at != std::string::npos) {
            op = arg[at] == '#' ? "#=" : arg.substr(at, 1);
            if (op == "#=" && arg.compare(at, 2, "#=") != 0) {
                std::cerr << "json_check: bad assertion \"" << arg << "\"\n";
                return 2;
            }
            path = arg.substr(0, at);
            want = arg.substr(at + op.size());
        }
        const Value* v = lookup(doc, path);
        std::string problem;
        if (!v) {
            problem = "no such path";
        } else if (op == "#=") {
            const std::size_t n = v->kind == Value::Array ? v->items.size() : v->members.size();
            if ((v->kind != Value::Array && v->kind != Value::Object) || std::to_string(n) != want)
                problem = "has " + std::to_string(n) + " elements";
        } else if (op == "=") {
            if (v->kind == Value::Array || v->kind == Value::Object || v->text != want)
                problem = "is \"" + v->text + "\"";
        } else if (op == "~") {
            if (v->kind != Value::String || v->text.find(want) == std::string::npos) problem = "is \"" + v->text + "\"";
        }
        if (!problem.empty()) {
            std::cerr << "json_check: " << arg << ": " << path << " " << problem << "\n";
            ++failures;
        }
    }
    if (failures) std::cerr << "--- input ---\n" << input << "\n";
    return failures ? 1 : 0;
}
