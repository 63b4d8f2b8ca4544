// The model manager on the real stories260K model (CPU): chat prompts through a template or the
// fallback, the bounded queue, cancellation, stop sequences, unloading while in use, metrics text.
#include <gtest/gtest.h>

#include <thread>

#include "apps/server/api_error.h"
#include "apps/server/chat_prompt.h"
#include "apps/server/engine.h"
#include "formats/gguf.h"
#include "test_util.h"
#include "tokenizer/vocab.h"

namespace hearth::server {
namespace {

using ojson = nlohmann::ordered_json;

std::string model_file() { return test::data_path("models/tinyllamas/stories260K.gguf"); }

engine_options cpu_options(int max_queue = 4) {
  engine_options o;
  o.load_backends = false;
  o.jit = false;
  o.max_queue = max_queue;
  o.defaults.device = "cpu";
  o.defaults.n_ctx = 256;
  o.defaults.n_threads = 1;
  return o;
}

TEST(ChatFormatter, TemplateOrFallback) {
  auto voc = vocab::from_gguf(*gguf::file::open(model_file()));
  const ojson msgs = ojson::parse(R"([{"role": "user", "content": "Hi"}])");
  chat_formatter plain("", *voc);
  EXPECT_TRUE(plain.is_fallback());
  EXPECT_EQ(plain.render(msgs), "user: Hi\n\nassistant:");
  EXPECT_EQ(plain.implicit_stops(), std::vector<std::string>{"\nuser:"});
  // BOS is added to a prompt that does not start with it, and not doubled when the template writes it.
  const auto ids = plain.tokenize("user: Hi");
  EXPECT_EQ(ids.front(), voc->bos());
  chat_formatter tpl("{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}", *voc);
  EXPECT_FALSE(tpl.is_fallback());
  EXPECT_TRUE(tpl.implicit_stops().empty());
  const std::string p = tpl.render(msgs);
  EXPECT_EQ(p, voc->text(voc->bos()) + "<user>Hi<assistant>");
  const auto t = tpl.tokenize(p);
  EXPECT_EQ(t[0], voc->bos());
  EXPECT_NE(t[1], voc->bos());
  // A template that raises is the client's 400; one that does not parse falls back.
  chat_formatter raising("{{ raise_exception('roles must alternate') }}", *voc);
  try {
    raising.render(msgs);
    ADD_FAILURE();
  } catch (const api_error& e) {
    EXPECT_EQ(e.status, 400);
    EXPECT_NE(std::string(e.what()).find("roles must alternate"), std::string::npos);
  }
  chat_formatter broken("{% for %}", *voc);
  EXPECT_TRUE(broken.is_fallback());
}

class Engine : public ::testing::Test {
 protected:
  void SetUp() override {
    eng = std::make_unique<engine>(cpu_options(1));
    m = eng->load(model_file(), eng->options().defaults, false);
  }
  std::vector<int32_t> prompt(const std::string& text) { return m->chat->tokenize(m->chat->render(ojson::array({{{"role", "user"}, {"content", text}}}))); }
  std::unique_ptr<engine> eng;
  std::shared_ptr<loaded_model> m;
};

TEST_F(Engine, LoadsUnderTheFileStemAndReportsMemory) {
  EXPECT_EQ(m->id, "stories260K");
  EXPECT_EQ(m->n_ctx, 256u);
  EXPECT_EQ(eng->get("stories260K"), m);
  EXPECT_EQ(eng->get(model_file()), m);  // by path too
  const auto j = m->to_json();
  EXPECT_EQ(j["memory"][0]["device"], "cpu");
  EXPECT_GT(j["memory_bytes"].get<uint64_t>(), 1000000u);  // weights (1.1 MB) and KV cache
  try {
    eng->get("other");
    ADD_FAILURE();
  } catch (const api_error& e) {
    EXPECT_EQ(e.status, 404);
    EXPECT_EQ(e.code, "model_not_found");
  }
}

TEST_F(Engine, BoundedQueue) {
  auto a = eng->enter(m);
  ASSERT_TRUE(a->wait(nullptr));  // the one slot
  auto b = eng->enter(m);         // the one queue place
  try {
    eng->enter(m);
    ADD_FAILURE() << "a third request should be refused";
  } catch (const api_error& e) {
    EXPECT_EQ(e.status, 503);
  }
  EXPECT_EQ(eng->stats().queue_length.load(), 1);
  // b gives up when told to stop; then waits successfully once a leaves.
  EXPECT_FALSE(b->wait([] { return true; }));
  std::thread release([&] { a.reset(); });
  EXPECT_TRUE(b->wait(nullptr));
  release.join();
  EXPECT_EQ(eng->stats().queue_length.load(), 0);
  EXPECT_EQ(eng->stats().active_generations.load(), 1);
  b.reset();
  EXPECT_EQ(eng->stats().active_generations.load(), 0);
  EXPECT_FALSE(m->busy());
}

TEST_F(Engine, GenerateStopsOnRequestAndOnStopSequences) {
  gen_options o;
  o.temperature = 0;
  o.max_tokens = 40;
  o.strip_leading_space = true;
  auto t = eng->enter(m);
  ASSERT_TRUE(t->wait(nullptr));
  const gen_outcome full = eng->generate(*t, prompt("Tell me a story"), o, nullptr);
  ASSERT_GT(full.text.size(), 10u);
  EXPECT_NE(full.text[0], ' ');
  // Cancelled after three tokens by the callback.
  int n = 0;
  const gen_outcome cut = eng->generate(*t, prompt("Tell me a story"), o, [&](const token_out& tok) { return tok.id < 0 || ++n < 3; });
  EXPECT_EQ(cut.finish, finish_reason::cancelled);
  EXPECT_EQ(cut.n_generated, 3);
  // A stop sequence from the middle of the greedy text: reported, and the text ends before it.
  const std::string stop = full.text.substr(full.text.size() / 2, 3);
  o.stop = {"@@@", stop};
  const gen_outcome stopped = eng->generate(*t, prompt("Tell me a story"), o, nullptr);
  EXPECT_EQ(stopped.finish, finish_reason::stop_sequence);
  EXPECT_EQ(stopped.stop_sequence, stop);
  EXPECT_EQ(stopped.text, full.text.substr(0, full.text.find(stop)));
  EXPECT_GT(eng->stats().render(1).find("hearth_generations_total 3"), 0u);
}

TEST_F(Engine, UnloadWhileInUseKeepsTheModelUntilTheRequestEnds) {
  auto t = eng->enter(m);
  ASSERT_TRUE(t->wait(nullptr));
  std::weak_ptr<loaded_model> weak = m;
  m.reset();
  EXPECT_TRUE(eng->unload("stories260K"));
  EXPECT_TRUE(eng->loaded().empty());
  EXPECT_FALSE(eng->unload("stories260K"));
  gen_options o;
  o.max_tokens = 4;
  EXPECT_EQ(eng->generate(*t, {1, 2, 3}, o, nullptr).n_generated, 4);
  EXPECT_FALSE(weak.expired());
  t.reset();
  EXPECT_TRUE(weak.expired());
}

TEST(Metrics, PrometheusText) {
  metrics mx;
  mx.count_request("/v1/models", 200);
  mx.count_request("/v1/models", 200);
  mx.count_generation(10, 4, 5, 0.01, 0.2, 0.03);
  const std::string t = mx.render(2);
  EXPECT_NE(t.find("hearth_requests_total{endpoint=\"/v1/models\",status=\"200\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find("hearth_prompt_tokens_total 10\n"), std::string::npos);
  EXPECT_NE(t.find("hearth_generated_tokens_total 5\n"), std::string::npos);
  EXPECT_NE(t.find("hearth_models_loaded 2\n"), std::string::npos);
  EXPECT_NE(t.find("hearth_tokens_per_second 20\n"), std::string::npos);  // 4 tokens after the first in 0.2 s
  // Buckets are cumulative: 0.03 s falls in le=0.05 and above, not in le=0.025.
  EXPECT_NE(t.find("hearth_time_to_first_token_seconds_bucket{le=\"0.025\"} 0\n"), std::string::npos);
  EXPECT_NE(t.find("hearth_time_to_first_token_seconds_bucket{le=\"0.05\"} 1\n"), std::string::npos);
  EXPECT_NE(t.find("hearth_time_to_first_token_seconds_bucket{le=\"+Inf\"} 1\n"), std::string::npos);
}

}  // namespace
}  // namespace hearth::server
