// The `hyphae` command against running nodes: id, peers add/list, send, status, recv.
#include <fstream>

#include "harness.hpp"

namespace hyphae::testing {
namespace {

using namespace std::chrono_literals;

TEST(Cli, PeersSendStatusAndRecvDriveRealNodes) {
  NodePair pair(false);
  auto& a = pair.a;
  auto& b = pair.b;
  auto& dir = pair.dir;

  auto id = run_cli(b.data_dir(), "--json id");
  ASSERT_EQ(id.status, 0) << id.text;
  EXPECT_EQ(nlohmann::json::parse(id.text)["peer_id"], b.peer_id());

  auto added = run_cli(a.data_dir(),
                       "peers add " + b.peer_id() + " /ip4/127.0.0.1/tcp/" + std::to_string(b.listen_port()));
  ASSERT_EQ(added.status, 0) << added.text;
  ASSERT_TRUE(wait_until([&] { return connection_count(a) == 1; }, 15s));
  auto listed = run_cli(a.data_dir(), "--json peers list");
  ASSERT_EQ(listed.status, 0) << listed.text;
  auto peers = nlohmann::json::parse(listed.text)["peers"];
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_TRUE(peers[0]["connected"].get<bool>());

  auto file = dir.path() / "note.txt";
  std::ofstream(file) << "from a file";
  auto binary = dir.path() / "blob.bin";  // not UTF-8: goes as payload_base64
  std::ofstream(binary, std::ios::binary) << std::string(
      "\xff\xfe\xed\xa0\x80"
      "binary",
      11);
  auto sent_text = run_cli(a.data_dir(), "--json send " + b.peer_id() + " 'hello from the cli'");
  auto sent_file = run_cli(a.data_dir(), "--json send " + b.peer_id() + " @" + file.string());
  auto sent_binary = run_cli(a.data_dir(), "--json send " + b.peer_id() + " @" + binary.string());
  ASSERT_EQ(sent_text.status, 0) << sent_text.text;
  ASSERT_EQ(sent_file.status, 0) << sent_file.text;
  ASSERT_EQ(sent_binary.status, 0) << sent_binary.text;
  std::string binary_id = nlohmann::json::parse(sent_binary.text)["id"];
  ASSERT_TRUE(wait_until(
      [&] {
        auto r = b.api().request("GET", "/v1/messages/" + binary_id);
        return r.status == 200;
      },
      15s));
  bool found = false;
  const auto listed_at_b = b.api().request("GET", "/v1/messages?limit=100");
  for (const auto& m : listed_at_b.body["messages"])
    if (m["id"] == binary_id) {
      found = true;
      EXPECT_EQ(m.value("payload_base64", ""), "//7toIBiaW5hcnk=") << m.dump();
    }
  EXPECT_TRUE(found) << listed_at_b.raw;
  std::string id_text = nlohmann::json::parse(sent_text.text)["id"];
  ASSERT_TRUE(wait_until(
      [&] {
        auto st = run_cli(a.data_dir(), "--json status " + id_text);
        return st.status == 0 && nlohmann::json::parse(st.text)["status"] == "delivered";
      },
      15s));

  auto received = run_cli(b.data_dir(), "--json recv");
  ASSERT_EQ(received.status, 0) << received.text;
  EXPECT_NE(received.text.find("hello from the cli"), std::string::npos) << received.text;
  EXPECT_NE(received.text.find("from a file"), std::string::npos) << received.text;
  // recv acknowledged them: a second recv prints nothing.
  auto again = run_cli(b.data_dir(), "--json recv");
  EXPECT_EQ(again.status, 0);
  EXPECT_EQ(again.text.find("hello from the cli"), std::string::npos) << again.text;

  auto bad = run_cli(a.data_dir(), "send not-a-peer hi");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.text.find("400"), std::string::npos) << bad.text;
  auto no_node = run_cli(dir.path() / "nobody", "status");
  EXPECT_NE(no_node.status, 0);
  EXPECT_NE(no_node.text.find("no running node"), std::string::npos) << no_node.text;
  auto help = run_cli(a.data_dir(), "send --help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.text.find("--ephemeral"), std::string::npos);
}

TEST(Cli, NodeRefusesAnIdentityKeyOthersCanRead) {
  TempDir dir;
  auto id = run_cli(dir.path(), "id");
  ASSERT_EQ(id.status, 0) << id.text;
  auto key = dir.path() / "identity.key";
  ASSERT_TRUE(std::filesystem::exists(key));
  EXPECT_EQ(std::filesystem::status(key).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::filesystem::permissions(key, std::filesystem::perms::group_read | std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  auto node = run_cli(dir.path(), "node --listen 127.0.0.1:0");
  EXPECT_NE(node.status, 0);
  EXPECT_NE(node.text.find("0600"), std::string::npos) << node.text;
}

}  // namespace
}  // namespace hyphae::testing
