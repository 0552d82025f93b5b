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

/// What AWS WAF in front of an ALB answers a request a rule blocks: `403 Forbidden`, an HTML
/// page of its own (`waf-blocks-registry`).
pub fn firewall_page() -> ResponseTemplate {
    ResponseTemplate::new(403).set_body_raw(
        "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>\r\n</body>\r\n</html>\r\n",
        "text/html",
    )
}
