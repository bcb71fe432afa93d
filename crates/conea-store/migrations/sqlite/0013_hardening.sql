-- Issue 22 hardening.
--
-- A shop domain may be connected by more than one organization, each as its own connection
-- (its own shop row, credentials and data), once each proved it holds a valid token for the
-- shop (Conea checks it with `GET shop.json` before storing). Before, the domain was unique
-- across organizations, so the first organization to claim a domain, with any token, kept
-- its real owner out. One live connection per organization and domain remains (the shops
-- table is unique on (organization_id, domain)); webhooks find every live connection of the
-- domain and each keeps the deliveries its own secret verifies.
DROP INDEX shopify_shops_domain;
CREATE INDEX shopify_shops_domain ON shopify_shops (domain) WHERE status <> 'disconnected';

-- Listing an organization's members (their e-mails and permissions) takes `members:read`
-- (roles member and above have it). Keys that could already manage members keep seeing them.
INSERT INTO api_key_permissions (api_key_id, permission)
SELECT api_key_id, 'members:read' FROM api_key_permissions WHERE permission = 'members:manage'
ON CONFLICT DO NOTHING;
