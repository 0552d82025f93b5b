//! What an AWS ALB answers when it has no healthy target: an HTML page, not JSON.

use wiremock::ResponseTemplate;

/// `503 Service Temporarily Unavailable`, byte for byte the shape an ALB serves (under the
/// reworded dialect: its other page, `502 Bad Gateway`).
pub fn unavailable(dialect: super::Dialect) -> ResponseTemplate {
    if dialect == super::Dialect::Reworded {
        return ResponseTemplate::new(502).set_body_raw(
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n",
            "text/html",
        );
    }
    service_unavailable()
}

/// `503 Service Temporarily Unavailable`, byte for byte the shape an ALB serves.
pub fn service_unavailable() -> ResponseTemplate {
    ResponseTemplate::new(503).set_body_raw(
        "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n",
        "text/html",
    )
}
