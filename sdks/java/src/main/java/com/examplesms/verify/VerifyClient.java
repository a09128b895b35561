package com.examplesms.verify;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;

/** Starts verifications and checks one-time codes. Responses are the API's JSON text. */
public final class VerifyClient {
    /** Address of the production API. */
    public static final String DEFAULT_BASE_URL = "https://api.example-sms.com";

    private static final Set<String> CHANNELS = Set.of("whatsapp", "sms", "voice");

    private final String apiKey;
    private final String baseUrl;
    private final HttpClient http;

    public VerifyClient(String apiKey) {
        this(apiKey, DEFAULT_BASE_URL, Duration.ofSeconds(10));
    }

    public VerifyClient(String apiKey, String baseUrl, Duration timeout) {
        if (apiKey == null || apiKey.isEmpty()) {
            throw new IllegalArgumentException("apiKey is required");
        }
        this.apiKey = apiKey;
        this.baseUrl = Objects.requireNonNull(baseUrl).replaceAll("/+$", "");
        this.http = HttpClient.newBuilder().connectTimeout(timeout).build();
    }

    /** Returns the SDK version written into the jar's manifest by the release build. */
    public static String version() {
        String version = VerifyClient.class.getPackage().getImplementationVersion();
        return version == null ? "dev" : version;
    }

    /** Sends a one-time code to {@code phoneNumber} (E.164) over {@code channel}. */
    public String start(String phoneNumber, String channel) throws IOException, InterruptedException {
        if (!CHANNELS.contains(channel)) {
            throw new IllegalArgumentException("channel must be one of " + CHANNELS + ", not " + channel);
        }
        String body = "{\"phone_number\":" + quote(phoneNumber) + ",\"channel\":" + quote(channel) + "}";
        return post("/v1/verify", body);
    }

    /** Checks the {@code code} the user entered for {@code verificationId}. */
    public String check(String verificationId, String code) throws IOException, InterruptedException {
        String path = "/v1/verify/" + URLEncoder.encode(verificationId, StandardCharsets.UTF_8) + "/check";
        return post(path, "{\"code\":" + quote(code) + "}");
    }

    private String post(String path, String body) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create(baseUrl + path))
                .header("Authorization", "Bearer " + apiKey)
                .header("Content-Type", "application/json")
                .header("User-Agent", "example-sms-verify-java/" + version())
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build();
        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() >= 400) {
            throw new VerifyException(response.statusCode(), response.body());
        }
        return response.body();
    }

    private static String quote(String value) {
        StringBuilder out = new StringBuilder("\"");
        for (char c : value.toCharArray()) {
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c < 0x20) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.append('"').toString();
    }
}
