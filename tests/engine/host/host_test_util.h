// Test fixture for engine/host: a real journal in a fresh temp directory (no fsync: tests only)
// and a host over it, with short timeouts so drain behaviours happen quickly.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "engine/host/host.h"
#include "engine/host/session_image.h"
#include "journal/journal.h"
#include "schema/codec.h"

namespace burrow::host::testing {

class HostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("burrow-host-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    journal::Options options;
    options.durability = journal::Durability::kNone;
    auto opened = journal::Journal::Open(dir_.string(), options);
    ASSERT_TRUE(opened.ok()) << opened.status();
    journal_ = std::move(opened).value();
    StartHost();
  }

  void TearDown() override {
    host_.reset();
    journal_.reset();
    std::filesystem::remove_all(dir_);
  }

  virtual HostOptions Options() {
    HostOptions options;
    options.drain_idle_timeout = std::chrono::milliseconds(60'000);
    options.join_timeout = std::chrono::milliseconds(2'000);
    options.respawn_initial = std::chrono::milliseconds(10);
    options.respawn_max = std::chrono::milliseconds(100);
    options.enable_test_hooks = true;
    return options;
  }

  void StartHost() {
    host_ = Host::Create(journal_.get(), Options());
    auto started = host_->Start();
    ASSERT_TRUE(started.ok());
  }

  // Every record of the journal folded per session, as recovery would (without snapshots).
  std::map<std::string, SessionImage> Replay() {
    std::map<std::string, SessionImage> images;
    Status scanned = journal_->Scan(journal_->FirstSequence(), journal_->LastSequence(),
                                    [&](const journal::Record& r) {
                                      auto decoded = schema::DecodeRecord(r.seq, r.payload);
                                      EXPECT_TRUE(decoded.ok()) << decoded.status();
                                      if (!decoded.ok() || decoded->session_id.empty())
                                        return decoded.ok();
                                      Status folded = Fold(images[decoded->session_id], *decoded);
                                      EXPECT_TRUE(folded.ok()) << folded;
                                      return folded.ok();
                                    });
    EXPECT_TRUE(scanned.ok()) << scanned;
    return images;
  }

  std::filesystem::path dir_;
  std::unique_ptr<journal::Journal> journal_;
  std::unique_ptr<Host> host_;
};

}  // namespace burrow::host::testing
