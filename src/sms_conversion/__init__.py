"""Report SMS verification-success events to Tencent Cloud SMS ReportConversion."""
