package dev.thinkproxy.examples.spring;

import dev.thinkproxy.ChatCompletionProxy;
import dev.thinkproxy.MicrometerProxyListener;
import dev.thinkproxy.servlet.ChatCompletionProxyServlet;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.servlet.http.HttpServletRequest;
import org.apache.tomcat.util.buf.EncodedSolidusHandling;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.web.embedded.tomcat.TomcatServletWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.boot.web.servlet.ServletRegistrationBean;
import org.springframework.boot.web.servlet.filter.OrderedFormContentFilter;
import org.springframework.context.annotation.Bean;
import org.springframework.core.env.Environment;

/**
 * A Spring Boot application that serves thinkproxy at {@code /proxy/*}, configured by the {@code thinkproxy.*}
 * properties ({@link ThinkProxySettings}): clients use {@code http://localhost:8080/proxy/https://api.provider.com/v1}
 * or {@code http://localhost:8080/proxy/NAME/v1} (a provider alias) as their base URL. With Actuator, the proxy's
 * meters are in {@code /actuator/prometheus}.
 */
@SpringBootApplication(proxyBeanMethods = false)
public class ThinkProxyApplication {
  private static final String SERVLET_NAME = "thinkproxy";

  /** Starts the application; {@code args} are Spring Boot's ({@code --thinkproxy.think-mode=wrap}). */
  public static void main(String[] args) {
    SpringApplication.run(ThinkProxyApplication.class, args);
  }

  /** The {@code thinkproxy.*} properties. */
  @Bean
  public ThinkProxySettings thinkProxySettings(Environment environment) {
    return ThinkProxySettings.bind(environment);
  }

  /** The proxy, with its meters in the application's registry when there is one (Actuator). */
  @Bean(destroyMethod = "close")
  public ChatCompletionProxy chatCompletionProxy(ThinkProxySettings settings, ObjectProvider<MeterRegistry> meters) {
    ChatCompletionProxy.Builder builder = settings.proxyBuilder();
    meters.ifAvailable(registry -> builder.addListener(new MicrometerProxyListener(registry)));
    return builder.build();
  }

  /**
   * The proxy servlet at {@code /proxy/*}. Async, so that a stream holds a connection and not a request thread;
   * the servlet leaves closing the proxy to its bean.
   */
  @Bean
  public ServletRegistrationBean<ChatCompletionProxyServlet> thinkProxyServlet(ChatCompletionProxy proxy,
      ThinkProxySettings settings) {
    ServletRegistrationBean<ChatCompletionProxyServlet> registration =
        new ServletRegistrationBean<>(new ChatCompletionProxyServlet(proxy, settings.corsPolicy()), "/proxy/*");
    registration.setName(SERVLET_NAME);
    registration.setAsyncSupported(true);
    registration.setLoadOnStartup(1);
    return registration;
  }

  /**
   * Spring MVC's form filter, minus the proxy. The one Spring Boot registers for every path reads the body of
   * PUT, PATCH and DELETE requests sent as {@code application/x-www-form-urlencoded} to parse it into parameters,
   * and the upstream would get an empty body; this one, replacing it, skips requests for the proxy servlet. The
   * other filters Spring Boot registers (character encoding, request context, Actuator's observation) read
   * neither the body nor the parameters, and wrap neither the request's nor the response's streams.
   */
  @Bean
  public OrderedFormContentFilter formContentFilter() {
    return new OrderedFormContentFilter() {
      @Override
      protected boolean shouldNotFilter(HttpServletRequest request) {
        return SERVLET_NAME.equals(request.getHttpServletMapping().getServletName());
      }
    };
  }

  /**
   * Lets the base-URL forms Tomcat refuses by default reach the proxy: a percent-encoded one
   * ({@code /proxy/https%3A%2F%2Fhost/v1}, 400 unless encoded slashes pass through) and an IPv6 literal
   * ({@code /proxy/http://[::1]:8000/v1}, 400 unless brackets are allowed in paths). {@code https://host} and
   * {@code https:/host} need nothing: the proxy reads the raw request URI, in which Tomcat keeps {@code //}. The
   * settings are the standalone server's and apply to the whole connector.
   */
  @Bean
  public WebServerFactoryCustomizer<TomcatServletWebServerFactory> tomcatAcceptsEveryBaseUrlForm() {
    return factory -> factory.addConnectorCustomizers(connector -> {
      connector.setEncodedSolidusHandling(EncodedSolidusHandling.PASS_THROUGH.getValue());
      connector.setProperty("relaxedPathChars", "[]|");
      connector.setProperty("relaxedQueryChars", "[]|{}^\\`\"<>");
    });
  }
}
