// Report one conversion to the function's URL, signed as the README's "Signing" section says.
//   URL=https://... REPORT_SIGNING_SECRET=... java Report.java '{"SmsSdkAppId": "1400006666", "SerialNo": "..."}'
// JDK 11+ (single-file source launch, java.net.http), standard library only.
// Exit status: 0 for a 2xx answer, 1 otherwise, 2 when it could not ask.
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

public class Report {
    public static void main(String[] args) throws Exception {
        String url = System.getenv("URL");
        String secret = System.getenv("REPORT_SIGNING_SECRET");
        if (url == null || url.isEmpty() || secret == null || secret.isEmpty() || args.length < 1) {
            System.err.println("usage: URL=... REPORT_SIGNING_SECRET=... java Report.java '<json body>'");
            System.exit(2);
        }
        byte[] body = args[0].getBytes(StandardCharsets.UTF_8);
        String timestamp = Long.toString(System.currentTimeMillis() / 1000);
        // The signed bytes: the X-Timestamp value, a dot, then the raw body exactly as sent.
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        mac.update((timestamp + ".").getBytes(StandardCharsets.UTF_8));
        StringBuilder hex = new StringBuilder();
        for (byte b : mac.doFinal(body)) {
            hex.append(String.format("%02x", b));
        }
        HttpResponse<String> response;
        try {
            HttpRequest request = HttpRequest.newBuilder(URI.create(url))
                .timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .header("X-Timestamp", timestamp)
                .header("X-Signature", "sha256=" + hex)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                .build();
            response = HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString());
        } catch (Exception e) {
            System.err.println("could not reach " + url + ": " + e);
            System.exit(2);
            return;
        }
        System.out.println("HTTP " + response.statusCode());
        System.out.println(response.body());
        System.exit(response.statusCode() / 100 == 2 ? 0 : 1);
    }
}
