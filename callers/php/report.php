<?php
// Report one conversion to the function's URL, signed as the README's "Signing" section says.
//   URL=https://... REPORT_SIGNING_SECRET=... php report.php '{"SmsSdkAppId": "1400006666", "SerialNo": "..."}'
// PHP 7.4+, standard library only (no curl extension needed).
// Exit status: 0 for a 2xx answer, 1 otherwise, 2 when it could not ask.
$url = getenv('URL');
$secret = getenv('REPORT_SIGNING_SECRET');
$body = $argv[1] ?? null;
if (!$url || !$secret || $body === null) {
    fwrite(STDERR, "usage: URL=... REPORT_SIGNING_SECRET=... php report.php '<json body>'\n");
    exit(2);
}
$timestamp = (string) time();
// The signed bytes: the X-Timestamp value, a dot, then the raw body exactly as sent.
$signature = 'sha256=' . hash_hmac('sha256', $timestamp . '.' . $body, $secret);
$context = stream_context_create(['http' => [
    'method' => 'POST',
    'header' => "Content-Type: application/json\r\nX-Timestamp: $timestamp\r\nX-Signature: $signature\r\n",
    'content' => $body,
    'timeout' => 30,
    'ignore_errors' => true, // read the body of a 4xx or 5xx answer too
]]);
$answer = @file_get_contents($url, false, $context);
if ($answer === false) {
    $error = error_get_last();
    fwrite(STDERR, "could not reach $url: " . ($error['message'] ?? 'unknown error') . "\n");
    exit(2);
}
preg_match('{^HTTP/\S+ (\d{3})}', $http_response_header[0] ?? '', $match);
$status = (int) ($match[1] ?? 0);
echo "HTTP $status\n$answer\n";
exit($status >= 200 && $status < 300 ? 0 : 1);
