package dev.thinkproxy.load;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class JettyPassThroughServerTest {
  @Test
  void theTargetIsTheUrlAfterTheMountWithTheQuery() {
    assertThat(JettyPassThroughServer.FlushingProxyServlet.target(
        "/proxy/http://127.0.0.1:9100/v1/chat/completions", "chunks=2&delay_ms=5"))
        .isEqualTo("http://127.0.0.1:9100/v1/chat/completions?chunks=2&delay_ms=5");
    assertThat(JettyPassThroughServer.FlushingProxyServlet.target("/proxy/https://api.example.com/v1/models", null))
        .isEqualTo("https://api.example.com/v1/models");
  }

  @Test
  void anythingElseIsNotForwarded() {
    assertThat(JettyPassThroughServer.FlushingProxyServlet.target("/proxy/ftp://host/x", null)).isNull();
    assertThat(JettyPassThroughServer.FlushingProxyServlet.target("/other/http://host/x", null)).isNull();
    assertThat(JettyPassThroughServer.FlushingProxyServlet.target(null, null)).isNull();
  }
}
