# Homebrew formula for vmfleet on macOS: the binary, and the host agent as a service
# (docs/install.md#homebrew). `make release` writes dist/vmfleet.rb, this file pinned to the
# release's source archive; this file as it is installs the newest commit:
#
#   brew install --HEAD ./packaging/homebrew/vmfleet.rb    # or, from a tap: brew install vmfleet
#   brew services start vmfleet                            # the agent, as the user who owns the VMs
class Vmfleet < Formula
  desc "Keeps macOS CI hosts supplied with the right tart VM images (host agent and CLI)"
  homepage "https://github.com/vmfleet/vmfleet"
  # stable release: url and sha256 written by make release
  head "https://github.com/vmfleet/vmfleet.git", branch: "main"

  # The release's commit and its time, recorded in the binary (vmfleet version); a HEAD build
  # reads them from its git checkout.
  RELEASE_COMMIT = "".freeze
  RELEASE_DATE = "".freeze

  depends_on "go" => :build
  depends_on :macos

  def install
    pkg = "github.com/vmfleet/vmfleet/internal/buildinfo"
    commit = build.head? ? Utils.git_head : RELEASE_COMMIT
    date = build.head? ? Utils.safe_popen_read("git", "log", "-1", "--format=%cI").chomp : RELEASE_DATE
    ldflags = %W[
      -s -w
      -X #{pkg}.version=#{build.head? ? version : "v#{version}"}
      -X #{pkg}.commit=#{commit}
      -X #{pkg}.date=#{date}
      -X #{pkg}.dirty=false
    ]
    ENV["CGO_ENABLED"] = "0"
    system "go", "build", *std_go_args(ldflags:), "./cmd/vmfleet"
    generate_completions_from_executable(bin/"vmfleet", "completion")
    (etc/"vmfleet").install "deploy/config/agent.yaml" unless (etc/"vmfleet/agent.yaml").exist?
  end

  def post_install
    (var/"log/vmfleet").mkpath
  end

  def caveats
    <<~EOS
      Edit #{etc}/vmfleet/agent.yaml (NATS URL and this host's NKey seed from
      `vmfleet nats-config`), try it once with
        vmfleet agent check --config #{etc}/vmfleet/agent.yaml
      then start the agent as the user that owns the tart VMs:
        brew services start vmfleet
      For a boot-time daemon running as another user, use deploy/launchd/dev.vmfleet.agent.plist.
    EOS
  end

  # The agent as deploy/launchd/dev.vmfleet.agent.plist runs it (docs/install.md): the same
  # command, TART_NO_AUTO_PRUNE=1 (vmfleet prunes, not tart), JSON logs, restarted on exit.
  service do
    run [opt_bin/"vmfleet", "agent", "run", "--config", etc/"vmfleet/agent.yaml"]
    environment_variables TART_NO_AUTO_PRUNE: "1", VMFLEET_LOG_FORMAT: "json", PATH: std_service_path_env
    keep_alive true
    process_type :standard
    log_path var/"log/vmfleet/agent.log"
    error_log_path var/"log/vmfleet/agent.log"
  end

  test do
    assert_match "vmfleet", shell_output("#{bin}/vmfleet version")
    assert_match "ready", shell_output("#{bin}/vmfleet agent check --help")
  end
end
