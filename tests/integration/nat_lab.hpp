// NatLab: two home networks behind their own NAT and a public network, in Linux network
// namespaces, for the relay and discovery tests:
//   lanA 192.168.1.10 -> natA (lan 192.168.1.1, wan 10.0.0.11) -+
//   lanC 192.168.2.10 -> natC (lan 192.168.2.1, wan 10.0.0.12) -+- br0 in pub (10.0.0.1)
//   srv 10.0.0.2 (the registry) ---------------------------------+
// Each NAT masquerades its LAN to its WAN and drops whatever arrives unsolicited on the WAN (no
// inbound path), like a home router: lanA and lanC can reach pub and srv, nothing can reach them.
// Needs root, iproute2 and nftables; tests call NetnsLine::unavailable_reason() and nat_unavailable().
// Thread-safety: none. Ownership: deletes every namespace it made.
#pragma once

#include "netns.hpp"

namespace hyphae::testing {

class NatLab {
 public:
  enum Ns { pub, srv, nat_a, nat_c, lan_a, lan_c };
  static constexpr const char* kPublic = "10.0.0.1";
  static constexpr const char* kServer = "10.0.0.2";
  static constexpr const char* kLanA = "192.168.1.10";
  static constexpr const char* kLanC = "192.168.2.10";
  static constexpr const char* kWanA = "10.0.0.11";
  static constexpr const char* kWanC = "10.0.0.12";

  // Why the lab cannot be built here (no nft), or nullopt.
  static std::optional<std::string> nat_unavailable() {
    if (NetnsLine::run("command -v nft").status != 0) return "nft (nftables) is not installed";
    return std::nullopt;
  }

  NatLab() {
    auto ip = find_ip_command();
    if (!ip) throw std::runtime_error("NatLab: the `ip` command is not installed");
    ip_ = NetnsLine::quote(ip->string());
    const std::string prefix = "hn" + std::to_string(::getpid()) + "-";
    for (const char* n : {"pub", "srv", "natA", "natC", "lanA", "lanC"}) names_.push_back(prefix + n);
    try {
      for (const auto& n : names_) {
        NetnsLine::run(ip_ + " netns del " + n);
        must(ip_ + " netns add " + n);
        made_.push_back(n);
        must(ip_ + " -n " + n + " link set lo up");
      }
      const auto& p = ns(pub);
      must(ip_ + " -n " + p + " link add br0 type bridge");
      must(ip_ + " -n " + p + " addr add " + kPublic + "/24 dev br0");
      must(ip_ + " -n " + p + " link set br0 up");
      // srv on the bridge.
      must(ip_ + " -n " + ns(srv) + " link add eth0 type veth peer name ps netns " + p);
      must(ip_ + " -n " + p + " link set ps master br0 up");
      must(ip_ + " -n " + ns(srv) + " addr add " + kServer + "/24 dev eth0");
      must(ip_ + " -n " + ns(srv) + " link set eth0 up");
      home(nat_a, lan_a, "1", kWanA, "pa");
      home(nat_c, lan_c, "2", kWanC, "pc");
    } catch (...) {
      remove_all();
      throw;
    }
  }
  ~NatLab() { remove_all(); }
  NatLab(const NatLab&) = delete;
  NatLab& operator=(const NatLab&) = delete;

  const std::string& ns(Ns which) const { return names_.at(which); }
  // Cuts (down) or restores (up) a NAT's WAN link: the home behind it goes offline.
  void set_wan(Ns nat, bool up) { must(ip_ + " -n " + ns(nat) + " link set wan " + (up ? "up" : "down")); }
  // Runs a command inside a namespace; returns its status and output.
  NetnsLine::CommandResult exec(Ns where, const std::string& command) const {
    return NetnsLine::run(ip_ + " netns exec " + ns(where) + " " + command);
  }

 private:
  void home(Ns nat, Ns lan, const std::string& o, const std::string& wan, const std::string& port) {
    const auto& p = ns(pub);
    const auto& n = ns(nat);
    const auto& l = ns(lan);
    must(ip_ + " -n " + n + " link add wan type veth peer name " + port + " netns " + p);
    must(ip_ + " -n " + p + " link set " + port + " master br0 up");
    must(ip_ + " -n " + n + " addr add " + wan + "/24 dev wan");
    must(ip_ + " -n " + n + " link set wan up");
    must(ip_ + " -n " + n + " link add lan type veth peer name eth0 netns " + l);
    must(ip_ + " -n " + n + " addr add 192.168." + o + ".1/24 dev lan");
    must(ip_ + " -n " + n + " link set lan up");
    must(ip_ + " -n " + l + " addr add 192.168." + o + ".10/24 dev eth0");
    must(ip_ + " -n " + l + " link set eth0 up");
    must(ip_ + " -n " + l + " route add default via 192.168." + o + ".1");
    must(ip_ + " netns exec " + n + " sysctl -qw net.ipv4.ip_forward=1");
    // Masquerade out of the WAN; forward only replies back in; the router itself takes nothing
    // unsolicited from the WAN (so a stray packet neither reaches the LAN nor clashes with a mapping).
    const std::string rules =
        "table ip nat {\n"
        "  chain postrouting {\n"
        "    type nat hook postrouting priority srcnat;\n"
        "    oifname \"wan\" masquerade;\n"
        "  }\n"
        "}\n"
        "table ip fw {\n"
        "  chain forward {\n"
        "    type filter hook forward priority filter; policy drop;\n"
        "    ct state established,related accept;\n"
        "    iifname \"lan\" oifname \"wan\" accept;\n"
        "  }\n"
        "  chain input {\n"
        "    type filter hook input priority filter; policy drop;\n"
        "    ct state established,related accept;\n"
        "    iifname { \"lo\", \"lan\" } accept;\n"
        "  }\n"
        "}\n";
    must("printf '%s' " + NetnsLine::quote(rules) + " | " + ip_ + " netns exec " + n + " nft -f -");
  }

  void must(const std::string& command) const {
    auto r = NetnsLine::run(command);
    if (r.status != 0)
      throw std::runtime_error("NatLab: `" + command + "` failed (status " + std::to_string(r.status) +
                               "): " + r.output);
  }

  void remove_all() noexcept {
    for (const auto& n : made_) NetnsLine::run(ip_ + " netns del " + n);
    made_.clear();
  }

  std::string ip_;
  std::vector<std::string> names_, made_;
};

}  // namespace hyphae::testing
