using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Herald.Delivery;
using Herald.OAuth;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.Extensions.Time.Testing;

namespace Herald.Tests.OAuth;

/// <summary>
/// Google's token endpoint is fixed (https://oauth2.googleapis.com/token) and cannot be pointed at
/// a local server, so this asserts the exact request Google.Apis.Auth makes for a service account
/// acting as a Workspace mailbox (RFC 7523 JWT bearer, domain-wide delegation), through the HTTP
/// handler the library is given, and how Google's answers are read. Its integration twin is the
/// generic provider against a real authorization server (OAuthDeliveryTests).
/// </summary>
public sealed class GoogleTokenRequestTests
{
    private const string ServiceAccount = "herald-mailer@example-project.iam.gserviceaccount.com";
    private const string Mailbox = "alerts@example.org";

    private static readonly DateTimeOffset Now = new(2026, 12, 6, 18, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Service_account_asks_google_for_a_mail_token_for_the_mailbox_with_a_signed_assertion()
    {
        using var key = RSA.Create(2048);
        var google = new RecordingGoogle(HttpStatusCode.OK, """{"access_token":"ya29.a0-test-token","expires_in":3599,"token_type":"Bearer"}""");
        var providers = new OAuthTokenProviders(new OAuthHttp(google), new FakeTimeProvider(Now));

        var (token, failure) = await providers.RequestAsync(Request(key), TestContext.Current.CancellationToken);

        Assert.Null(failure);
        Assert.Equal("ya29.a0-test-token", token!.AccessToken);
        Assert.Equal(Now.AddSeconds(3599), token.ExpiresOn);

        var (method, uri, form) = Assert.Single(google.Requests);
        Assert.Equal(HttpMethod.Post, method);
        Assert.Equal("https://oauth2.googleapis.com/token", uri.AbsoluteUri);
        Assert.Equal(["assertion", "grant_type"], form.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("urn:ietf:params:oauth:grant-type:jwt-bearer", form["grant_type"]);

        var parts = form["assertion"].Split('.');
        Assert.Equal(3, parts.Length);
        using var header = JsonDocument.Parse(Base64Url(parts[0]));
        Assert.Equal("RS256", header.RootElement.GetProperty("alg").GetString());
        using var claims = JsonDocument.Parse(Base64Url(parts[1]));
        var payload = claims.RootElement;
        Assert.Equal(ServiceAccount, payload.GetProperty("iss").GetString());
        Assert.Equal(Mailbox, payload.GetProperty("sub").GetString());
        Assert.Equal("https://mail.google.com/", payload.GetProperty("scope").GetString());
        Assert.Equal("https://oauth2.googleapis.com/token", payload.GetProperty("aud").GetString());
        Assert.Equal(Now.ToUnixTimeSeconds(), payload.GetProperty("iat").GetInt64());
        Assert.Equal(Now.AddHours(1).ToUnixTimeSeconds(), payload.GetProperty("exp").GetInt64());
        // Signed with the service account's key, so that Google can check it against the public key it holds.
        Assert.True(key.VerifyData(Encoding.ASCII.GetBytes($"{parts[0]}.{parts[1]}"), Base64Url(parts[2]), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
    }

    [Fact]
    public async Task Missing_domain_wide_delegation_is_a_sentence_that_says_where_to_grant_it()
    {
        using var key = RSA.Create(2048);
        var google = new RecordingGoogle(HttpStatusCode.Unauthorized,
            """{"error":"unauthorized_client","error_description":"Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."}""");
        var providers = new OAuthTokenProviders(new OAuthHttp(google), new FakeTimeProvider(Now));

        var (token, failure) = await providers.RequestAsync(Request(key), TestContext.Current.CancellationToken);

        Assert.Null(token);
        Assert.Equal("unauthorized_client", failure!.Code);
        Assert.StartsWith("Google gave SMTP connection /:workspace no token (unauthorized_client: Client is unauthorized", failure.Sentence, StringComparison.Ordinal);
        Assert.Contains("Security → API controls → Domain-wide delegation", failure.Sentence, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY", failure.Sentence, StringComparison.Ordinal);
    }

    private static OAuthTokenRequest Request(RSA key)
    {
        var json = JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["type"] = "service_account",
            ["client_email"] = ServiceAccount,
            ["private_key"] = key.ExportPkcs8PrivateKeyPem(),
            ["token_uri"] = "https://oauth2.googleapis.com/token",
        });
        var settings = new OAuthSettings { Provider = OAuthProvider.Google, ServiceAccount = ServiceAccount };
        var connection = new SmtpConnection
        {
            Id = "c-workspace",
            Owner = ScopePath.Root,
            Name = "workspace",
            Host = "smtp.gmail.com",
            Port = 587,
            Authentication = new SmtpAuthentication(Mailbox, [], null) { OAuth = settings },
        };
        return new OAuthTokenRequest(connection, settings, new OAuthSecrets(null, null, json, null), null);
    }

    private static byte[] Base64Url(string text) =>
        Convert.FromBase64String(text.Replace('-', '+').Replace('_', '/').PadRight(text.Length + ((4 - (text.Length % 4)) % 4), '='));

    /// <summary>Plays Google's token endpoint: records each request and gives one answer.</summary>
    private sealed class RecordingGoogle(HttpStatusCode status, string answer) : HttpMessageHandler
    {
        public List<(HttpMethod Method, Uri Uri, Dictionary<string, string> Form)> Requests { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = await request.Content!.ReadAsStringAsync(cancellationToken);
            var form = body.Split('&').Select(pair => pair.Split('=', 2)).ToDictionary(p => Uri.UnescapeDataString(p[0]), p => Uri.UnescapeDataString(p[1].Replace('+', ' ')));
            Requests.Add((request.Method, request.RequestUri!, form));
            return new HttpResponseMessage(status) { Content = new StringContent(answer, Encoding.UTF8, "application/json") };
        }
    }
}
