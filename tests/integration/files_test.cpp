// File transfer between node processes on loopback: offer, accept, chunks with progress, the
// SHA-256 checked at the end, a byte-identical file in the receiver's download directory; declines
// and cancels; a transfer that survives a kill -9 of the receiver mid-way and completes once; and a
// chat message that overtakes a running transfer.
#include <chrono>
#include <fstream>
#include <random>

#include "files/file_io.hpp"
#include "harness.hpp"

namespace hyphae::testing {
namespace {

using namespace std::chrono_literals;

std::filesystem::path write_file_config(const std::filesystem::path& dir, bool auto_accept) {
  std::filesystem::create_directories(dir);
  const auto file = dir / "node.yaml";
  std::ofstream(file) << "power:\n  sysfs_root: " << (dir / "no-sysfs").string() << "\n"
                      << "reconnect_min_ms: 50\nreconnect_max_ms: 200\n"
                      << "files:\n  auto_accept: " << (auto_accept ? "true" : "false") << "\n"
                      << "  download_dir: " << (dir / "downloads").string() << "\n";
  return file;
}

std::filesystem::path random_file(const std::filesystem::path& path, std::size_t size) {
  std::mt19937_64 rng(size);
  std::ofstream out(path, std::ios::binary);
  std::vector<std::uint64_t> block(8192);
  for (std::size_t written = 0; written < size;) {
    for (auto& w : block) w = rng();
    const auto n = std::min(size - written, block.size() * 8);
    out.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(n));
    written += n;
  }
  return path;
}

struct FilePair {
  TempDir dir;
  std::filesystem::path a_cfg, b_cfg;
  LocalNode a, b;
  explicit FilePair(bool auto_accept)
      : a_cfg(write_file_config(dir.path() / "cfg-a", false)),
        b_cfg(write_file_config(dir.path() / "cfg-b", auto_accept)),
        a{"a", hyphae_binary(), dir.path() / "a", {"--config", a_cfg.string()}},
        b{"b", hyphae_binary(), dir.path() / "b", {"--config", b_cfg.string()}} {
    a.start();
    b.start();
    connect(a, b);
    if (!wait_until([&] { return connection_count(a) == 1 && connection_count(b) == 1; }, 15s))
      throw std::runtime_error("a and b did not connect");
  }
  std::filesystem::path downloads() const { return dir.path() / "cfg-b" / "downloads"; }
  std::string offer(const std::filesystem::path& file, const std::string& name = "") {
    nlohmann::json body{{"to", b.peer_id()}, {"path", file.string()}};
    if (!name.empty()) body["name"] = name;
    auto r = a.api().request("POST", "/v1/files", body);
    EXPECT_EQ(r.status, 201) << r.body.dump();
    return r.body.value("id", "");
  }
  static nlohmann::json file(LocalNode& node, const std::string& id) {
    return node.api().request("GET", "/v1/files/" + id).body;
  }
};

std::string hex_sha256(const std::filesystem::path& path) {
  auto h = files::sha256_file(path);
  return h ? to_hex(ByteView(h->data(), h->size())) : "";
}

TEST(Files, OfferAcceptTransferAndVerify) {
  FilePair p(false);
  const auto source = random_file(p.dir.path() / "report.bin", (20u << 20) + 12345);
  const auto id = p.offer(source);
  ASSERT_EQ(id.size(), 32u);
  // The receiver sees the offer and accepts it.
  ASSERT_TRUE(wait_until([&] { return FilePair::file(p.b, id).value("state", "") == "offered"; }, 10s))
      << FilePair::file(p.b, id).dump();
  auto offered = FilePair::file(p.b, id);
  EXPECT_EQ(offered["name"], "report.bin");
  EXPECT_EQ(offered["size"], (20u << 20) + 12345);
  EXPECT_EQ(offered["direction"], "in");
  EXPECT_EQ(offered["sha256"], hex_sha256(source));
  ok(p.b.api().request("POST", "/v1/files/" + id + "/accept"));
  ASSERT_TRUE(wait_until([&] { return FilePair::file(p.a, id).value("state", "") == "complete"; }, 60s))
      << FilePair::file(p.a, id).dump() << FilePair::file(p.b, id).dump();
  const auto done = FilePair::file(p.b, id);
  EXPECT_EQ(done["state"], "complete");
  EXPECT_EQ(done["bytes"], (20u << 20) + 12345);
  const std::filesystem::path received = done["path"].get<std::string>();
  EXPECT_EQ(received, p.downloads() / "report.bin");
  EXPECT_EQ(hex_sha256(received), hex_sha256(source));
  // No partial file is left, and the node's own messages stay out of the app's inbox.
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(p.downloads())) ++entries;
  EXPECT_EQ(entries, 1u);
  EXPECT_TRUE(inbox(p.b).empty());
  // The same file again lands under a new name, never over the first.
  const auto again = p.offer(source);
  ASSERT_TRUE(wait_until([&] { return FilePair::file(p.b, again).value("state", "") == "offered"; }, 10s));
  ok(p.b.api().request("POST", "/v1/files/" + again + "/accept"));
  ASSERT_TRUE(wait_until([&] { return FilePair::file(p.b, again).value("state", "") == "complete"; }, 60s));
  EXPECT_EQ(FilePair::file(p.b, again)["path"], (p.downloads() / "report (1).bin").string());
  // Listing, and errors as JSON.
  EXPECT_EQ(ok(p.a.api().request("GET", "/v1/files"))["files"].size(), 2u);
  EXPECT_EQ(p.a.api().request("GET", "/v1/files/nothex").status, 400);
  EXPECT_EQ(p.a.api().request("GET", "/v1/files/" + std::string(32, '0')).status, 404);
  EXPECT_EQ(p.b.api().request("POST", "/v1/files/" + id + "/accept").status, 409);  // finished already
}

TEST(Files, DeclineCancelAndBadRequests) {
  FilePair p(false);
  const auto source = random_file(p.dir.path() / "a.bin", 1000);
  const auto declined = p.offer(source);
  ASSERT_TRUE(wait_until([&] { return FilePair::file(p.b, declined).value("state", "") == "offered"; }, 10s));
  ok(p.b.api().request("POST", "/v1/files/" + declined + "/decline", nlohmann::json{{"reason", "not now"}}));
  ASSERT_TRUE(
      wait_until([&] { return FilePair::file(p.a, declined).value("state", "") == "declined"; }, 10s));
  EXPECT_EQ(FilePair::file(p.a, declined)["error"], "not now");
  const auto cancelled = p.offer(source);
  ASSERT_TRUE(
      wait_until([&] { return FilePair::file(p.b, cancelled).value("state", "") == "offered"; }, 10s));
  ok(p.a.api().request("POST", "/v1/files/" + cancelled + "/cancel"));
  ASSERT_TRUE(
      wait_until([&] { return FilePair::file(p.b, cancelled).value("state", "") == "cancelled"; }, 10s));
  // Bad requests: a path in the name, a missing file, a directory, the reserved message type.
  auto bad_name =
      p.a.api().request("POST", "/v1/files",
                        nlohmann::json{{"to", p.b.peer_id()}, {"path", source.string()}, {"name", "../x"}});
  EXPECT_EQ(bad_name.status, 400);
  EXPECT_NE(bad_name.body.value("error", "").find("path"), std::string::npos) << bad_name.body.dump();
  EXPECT_EQ(
      p.a.api()
          .request("POST", "/v1/files", nlohmann::json{{"to", p.b.peer_id()}, {"path", "/no/such/file"}})
          .status,
      400);
  EXPECT_EQ(p.a.api()
                .request("POST", "/v1/files",
                         nlohmann::json{{"to", p.b.peer_id()}, {"path", p.dir.path().string()}})
                .status,
            400);
  EXPECT_EQ(p.a.api()
                .request("POST", "/v1/messages",
                         nlohmann::json{{"to", p.b.peer_id()}, {"payload", "x"}, {"type", 240}})
                .status,
            400);
}

TEST(Files, SurvivesAKillOfTheReceiverAndCompletesOnce) {
  FilePair p(true);
  const std::size_t size = 96u << 20;
  const auto source = random_file(p.dir.path() / "big.bin", size);
  const auto id = p.offer(source);
  ASSERT_TRUE(wait_until(
      [&] {
        auto f = FilePair::file(p.b, id);
        return f.value("bytes", 0ull) > size / 5;
      },
      60s))
      << FilePair::file(p.b, id).dump();
  p.b.kill_hard();
  const auto at_kill = FilePair::file(p.a, id);
  EXPECT_EQ(at_kill["state"], "active");
  p.b.start();
  ASSERT_TRUE(wait_until([&] { return FilePair::file(p.a, id).value("state", "") == "complete"; }, 120s))
      << FilePair::file(p.a, id).dump() << FilePair::file(p.b, id).dump();
  const auto done = FilePair::file(p.b, id);
  EXPECT_EQ(done["state"], "complete");
  EXPECT_EQ(hex_sha256(done["path"].get<std::string>()), hex_sha256(source));
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(p.downloads())) ++entries;
  EXPECT_EQ(entries, 1u);  // one file, no partial file left
}

TEST(Files, AChatMessageOvertakesARunningTransfer) {
  FilePair p(true);
  const std::size_t size = 256u << 20;
  const auto source = random_file(p.dir.path() / "huge.bin", size);
  const auto id = p.offer(source);
  ASSERT_TRUE(wait_until([&] { return FilePair::file(p.b, id).value("bytes", 0ull) > (8u << 20); }, 60s));
  auto r =
      p.a.api().request("POST", "/v1/messages", nlohmann::json{{"to", p.b.peer_id()}, {"payload", "hi"}});
  ASSERT_EQ(r.status, 201);
  const auto chat = r.body["id"].get<std::string>();
  ASSERT_TRUE(wait_until([&] { return inbox(p.b).count(chat) == 1; }, 20s));
  const auto at_chat = FilePair::file(p.b, id);
  EXPECT_LT(at_chat["bytes"].get<std::uint64_t>(), size) << "the chat message waited for the whole file";
  ASSERT_TRUE(wait_until([&] { return FilePair::file(p.a, id).value("state", "") == "complete"; }, 120s))
      << FilePair::file(p.a, id).dump();
}

TEST(Files, TheCliSendsAFileAndListsTransfers) {
  FilePair p(true);
  const auto source = random_file(p.dir.path() / "notes.txt", 3u << 20);
  auto sent = run_cli(p.a.data_dir(), "send-file " + p.b.peer_id() + " " + source.string());
  ASSERT_EQ(sent.status, 0) << sent.text;
  EXPECT_NE(sent.text.find("sent notes.txt (3.0 MiB), SHA-256 verified by the recipient"), std::string::npos)
      << sent.text;
  EXPECT_EQ(hex_sha256(p.downloads() / "notes.txt"), hex_sha256(source));
  auto listed = run_cli(p.b.data_dir(), "files");
  ASSERT_EQ(listed.status, 0) << listed.text;
  EXPECT_NE(listed.text.find("in  complete  notes.txt  3.0 MiB / 3.0 MiB"), std::string::npos) << listed.text;
  auto missing = run_cli(p.a.data_dir(), "send-file " + p.b.peer_id() + " /no/such/file");
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.text.find("cannot read /no/such/file"), std::string::npos) << missing.text;
  auto bad = run_cli(p.b.data_dir(), "files accept " + std::string(32, 'f'));
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.text.find("404"), std::string::npos) << bad.text;
}

}  // namespace
}  // namespace hyphae::testing
