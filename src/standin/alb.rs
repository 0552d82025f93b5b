//! What an AWS ALB answers when it has no healthy target: an HTML page, not JSON.

use wiremock::ResponseTemplate;

/// `503 Service Temporarily Unavailable`, byte for byte the shape an ALB serves.
pub fn service_unavailable() -> ResponseTemplate {
    ResponseTemplate::new(503).set_body_raw(
        "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n",
        "text/html",
    )
}
