// peer.cpp - a C++ program on libeshm, for the interop tests with Python and the tools.
//
//   peer slave NAME           answer each message m with "ACK " + m, until end of stream
//   peer master NAME COUNT    send "request #i", expect "ACK request #i" back, COUNT times
//   peer dump NAME            print each message as LENGTH:HEX, until end of stream
//   peer send NAME HEX...     send each HEX argument as a message (- for empty), then end
//
// Built with g++ -Wall -Wextra -Werror against eshm.h and libeshm.a: the
// header is usable from C++ unchanged.
#include <eshm.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

namespace
{

// RAII over a handle: closing marks end of stream and may remove the
// segment. A scope left by an exception, or a failure, is not a finished
// stream: the handle detaches as a lost writer (ESHM_DETACH_LOST).
class Channel
{
      public:
	Channel(const char *name, int role)
	{
		eshm_config cfg;
		eshm_config_init(&cfg);
		cfg.role = role;
		eshm_error err;
		int r = eshm_open(name, &cfg, &h_, &err);
		if (r) {
			std::fprintf(stderr, "peer: %s: %s\n", name, err.what);
			std::exit(1);
		}
		buf_.resize(eshm_max_message(h_) + 1);
	}
	~Channel()
	{
		if (h_)
			eshm_detach(h_,
				    std::uncaught_exceptions() > unwinding_ ? ESHM_DETACH_LOST : 0,
				    nullptr);
	}
	// Detach without ending the stream: what was written may be incomplete.
	void
	abandon()
	{
		eshm_detach(h_, ESHM_DETACH_LOST, nullptr);
		h_ = nullptr;
	}
	Channel(const Channel &) = delete;
	Channel &operator=(const Channel &) = delete;

	void
	write(const std::string &m)
	{
		int r = eshm_write(h_, m.data(), m.size(), 10000);
		if (r)
			fail(r);
	}

	// false at end of stream
	bool
	read(std::string &out)
	{
		ssize_t n = eshm_read(h_, buf_.data(), buf_.size(), 10000);
		if (n == ESHM_EOF)
			return false;
		if (n < 0)
			fail(static_cast<int>(n));
		out.assign(buf_.data(), static_cast<size_t>(n));
		return true;
	}

      private:
	[[noreturn]] void
	fail(int r)
	{
		std::fprintf(stderr, "peer: %s (%s)\n", eshm_errmsg(h_), eshm_strerror(r));
		abandon();
		std::exit(1);
	}
	eshm_t *h_ = nullptr;
	int unwinding_ = std::uncaught_exceptions();
	std::vector<char> buf_;
};

std::string
hex(const std::string &s)
{
	static const char d[] = "0123456789abcdef";
	std::string out;
	for (unsigned char c : s) {
		out += d[c >> 4];
		out += d[c & 15];
	}
	return out;
}

std::string
unhex(const char *s)
{
	std::string out;
	if (!std::strcmp(s, "-"))
		return out;
	for (size_t i = 0; s[i] && s[i + 1]; i += 2)
		out += static_cast<char>(std::strtoul(std::string(s + i, 2).c_str(), nullptr, 16));
	return out;
}

} // namespace

int
main(int argc, char **argv)
{
	if (argc < 3) {
		std::fprintf(stderr, "usage: peer slave|master|dump|send NAME [...]\n");
		return 2;
	}
	std::string mode = argv[1];
	const char *name = argv[2];
	std::string m;
	if (mode == "slave") {
		Channel ch(name, ESHM_ROLE_SLAVE);
		while (ch.read(m))
			ch.write("ACK " + m);
	} else if (mode == "master" && argc == 4) {
		Channel ch(name, ESHM_ROLE_MASTER);
		int count = std::atoi(argv[3]);
		for (int i = 0; i < count; i++) {
			std::string req = "request #" + std::to_string(i);
			ch.write(req);
			if (!ch.read(m) || m != "ACK " + req) {
				std::fprintf(stderr, "peer: expected 'ACK %s', got '%s'\n",
					     req.c_str(), m.c_str());
				ch.abandon();
				return 1;
			}
		}
		std::printf("%d acknowledged\n", count);
	} else if (mode == "dump") {
		Channel ch(name, ESHM_ROLE_SLAVE);
		while (ch.read(m))
			std::printf("%zu:%s\n", m.size(), hex(m).c_str());
	} else if (mode == "send") {
		Channel ch(name, ESHM_ROLE_MASTER);
		for (int i = 3; i < argc; i++)
			ch.write(unhex(argv[i]));
	} else {
		std::fprintf(stderr, "usage: peer slave|master|dump|send NAME [...]\n");
		return 2;
	}
	return std::fflush(stdout) ? 1 : 0;
}
