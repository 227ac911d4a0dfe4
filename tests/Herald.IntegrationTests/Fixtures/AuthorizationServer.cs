using System.Collections.Concurrent;
using System.Net;
using System.Security.Claims;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Herald.IntegrationTests.Fixtures;

/// <summary>
/// A real OAuth 2.0 authorization server (OpenIddict, with its Entity Framework stores in memory)
/// on a loopback port: the client-credentials, refresh-token, authorization-code (PKCE) and device
/// authorization (RFC 8628) grants, token introspection for Dovecot's <c>passdb oauth2</c>,
/// discovery for MSAL, a consent page a browser clicks through, and the verification page where a
/// person enters a device's user code and allows or denies it. Refresh tokens rotate: each use
/// gives a new one and the used one is refused at once. Each client is registered with the mailbox its tokens may send as
/// (the <c>email</c> claim Dovecot reads). It counts what it was asked, so that a test can say how
/// many tokens were issued and how many were presented to Dovecot. For console sign-in it is also an
/// OpenID Connect provider: discovery, a login page where the browser picks one of the test's people,
/// and ID tokens with their <c>sub</c>, <c>email</c>, <c>name</c> and <c>groups</c>.
/// </summary>
public sealed class AuthorizationServer : IAsyncDisposable
{
    /// <summary>The resource server (Dovecot) that introspects tokens; every access token names it as audience.</summary>
    public const string Introspector = "dovecot";

    public const string IntrospectorSecret = "dovecot-introspection-secret";

    private const string GenericAssertion = "herald-tests:generic-client-assertion";

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, string> _mailboxes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TestPerson> _people = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _openIdClients = new(StringComparer.Ordinal);
    private int _tokenRequests;
    private int _introspections;

    private AuthorizationServer(WebApplication app, Uri baseAddress, X509Certificate2? tls)
    {
        _app = app;
        BaseAddress = baseAddress;
        Tls = tls;
    }

    /// <summary>The server's certificate when it runs over HTTPS, for clients to trust.</summary>
    public X509Certificate2? Tls { get; }

    public Uri BaseAddress { get; }

    /// <summary>The issuer as OpenIddict writes it (with the trailing slash).</summary>
    public string Issuer => BaseAddress.AbsoluteUri;

    public string TokenEndpoint => new Uri(BaseAddress, "connect/token").AbsoluteUri;

    public string AuthorizationEndpoint => new Uri(BaseAddress, "connect/authorize").AbsoluteUri;

    public string IntrospectionEndpoint => new Uri(BaseAddress, "connect/introspect").AbsoluteUri;

    public string DeviceEndpoint => new Uri(BaseAddress, "connect/device").AbsoluteUri;

    public string VerificationEndpoint => new Uri(BaseAddress, "connect/verify").AbsoluteUri;

    /// <summary>Requests to the token endpoint so far (successful or not).</summary>
    public int TokenRequests => Volatile.Read(ref _tokenRequests);

    /// <summary>Introspection requests so far: one per token an SMTP server was shown.</summary>
    public int Introspections => Volatile.Read(ref _introspections);

    /// <summary>Starts the server on a free loopback port; with <paramref name="tls"/>, over HTTPS
    /// (MSAL insists on it). <paramref name="time"/> is the clock tokens expire by.</summary>
    public static async Task<AuthorizationServer> StartAsync(TimeProvider? time = null, X509Certificate2? tls = null)
    {
        var port = LoopbackPort.Free();
        var baseAddress = new Uri($"{(tls is null ? "http" : "https")}://127.0.0.1:{port}/");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port, listen =>
        {
            if (tls is not null)
            {
                listen.UseHttps(tls);
            }
        }));

        var database = $"oauth-{Guid.NewGuid():N}";
        builder.Services.AddDbContext<DbContext>(options =>
        {
            options.UseInMemoryDatabase(database);
            options.UseOpenIddict();
        });
        builder.Services.AddOpenIddict()
            .AddCore(core => core.UseEntityFrameworkCore().UseDbContext<DbContext>())
            .AddServer(server =>
            {
                server.SetIssuer(baseAddress)
                    .SetTokenEndpointUris("connect/token")
                    .SetAuthorizationEndpointUris("connect/authorize")
                    .SetIntrospectionEndpointUris("connect/introspect")
                    .SetDeviceAuthorizationEndpointUris("connect/device")
                    .SetEndUserVerificationEndpointUris("connect/verify")
                    .AllowClientCredentialsFlow()
                    .AllowDeviceAuthorizationFlow()
                    .AllowRefreshTokenFlow()
                    .AllowAuthorizationCodeFlow()
                    .RequireProofKeyForCodeExchange()
                    .SetAccessTokenLifetime(TimeSpan.FromMinutes(10))
                    // Rolling refresh tokens, and a used one is refused at once (no grace period),
                    // so that a test sees which token a client presented.
                    .SetRefreshTokenReuseLeeway(TimeSpan.Zero)
                    // Opaque tokens, checked by introspection: Dovecot's submission service takes an
                    // AUTH line of at most 512 octets, and a signed JWT with its claims is longer.
                    .UseReferenceAccessTokens()
                    .DisableScopeValidation()
                    .IgnoreScopePermissions()
                    .AddEphemeralEncryptionKey()
                    .AddEphemeralSigningKey()
                    .DisableAccessTokenEncryption();
                server.UseAspNetCore()
                    .EnableTokenEndpointPassthrough()
                    .EnableAuthorizationEndpointPassthrough()
                    .EnableEndUserVerificationEndpointPassthrough()
                    .DisableTransportSecurityRequirement();
                if (time is not null)
                {
                    server.Configure(options => options.TimeProvider = time);
                }

                // Client assertions as Entra ID takes them from MSAL: "typ": "JWT" (OpenIddict 7 asks
                // for "client-authentication+jwt") and the token endpoint as audience (OpenIddict
                // the issuer). The signature, lifetime, issuer and subject are checked as ever.
                server.AddEventHandler<OpenIddictServerEvents.ValidateTokenContext>(handler => handler
                    .UseInlineHandler(context =>
                    {
                        if (context.ValidTokenTypes.Contains(TokenTypeIdentifiers.Private.ClientAssertion)
                            && context.TokenValidationParameters is { } parameters
                            && new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(context.Token).Typ is "JWT")
                        {
                            parameters.ValidTypes = null;
                            parameters.ValidAudiences = [.. parameters.ValidAudiences ?? [], new Uri(baseAddress, "connect/token").AbsoluteUri];
                            context.Transaction.Properties[GenericAssertion] = true;
                        }

                        return default;
                    })
                    .SetOrder(OpenIddictServerHandlers.Protection.ValidateIdentityModelToken.Descriptor.Order - 500));
                server.AddEventHandler<OpenIddictServerEvents.ValidateTokenContext>(handler => handler
                    .UseInlineHandler(context =>
                    {
                        // OpenIddict reads the kind of token from "typ": a generic one is the client assertion
                        // it was expecting; and it holds the assertion to the issuer as audience.
                        if (context.Principal is { } principal && context.Transaction.Properties.Remove(GenericAssertion))
                        {
                            principal.SetTokenType(TokenTypeIdentifiers.Private.ClientAssertion);
                            if (principal.HasAudience(new Uri(baseAddress, "connect/token").AbsoluteUri))
                            {
                                principal.SetAudiences(baseAddress.AbsoluteUri);
                            }
                        }

                        return default;
                    })
                    .SetOrder(OpenIddictServerHandlers.Protection.ValidatePrincipal.Descriptor.Order - 500));

                // A terminal polls every second rather than RFC 8628's default five.
                server.AddEventHandler<OpenIddictServerEvents.ApplyDeviceAuthorizationResponseContext>(handler => handler.UseInlineHandler(context =>
                {
                    if (context.Response.Error is null)
                    {
                        context.Response[Parameters.Interval] = 1;
                    }

                    return default;
                }));
            });

        var app = builder.Build();
        var server = new AuthorizationServer(app, baseAddress, tls);
        app.Use(async (context, next) =>
        {
            if (context.Request.Path.StartsWithSegments("/connect/token", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref server._tokenRequests);
            }
            else if (context.Request.Path.StartsWithSegments("/connect/introspect", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref server._introspections);
            }

            await next(context);
        });
        // OpenIddict answers introspection inside the authentication middleware: it comes after the count.
        app.UseAuthentication();
        app.MapPost("/connect/token", (Delegate)server.TokenAsync);
        app.MapMethods("/connect/authorize", ["GET", "POST"], (Delegate)server.AuthorizeAsync);
        app.MapMethods("/connect/verify", ["GET", "POST"], (Delegate)server.VerificationPageAsync);
        await app.StartAsync();
        await server.RegisterAsync(new OpenIddictApplicationDescriptor
        {
            ClientId = Introspector,
            ClientSecret = IntrospectorSecret,
            ClientType = ClientTypes.Confidential,
            Permissions = { Permissions.Endpoints.Introspection },
        });
        return server;
    }

    /// <summary>A confidential client whose tokens send as <paramref name="mailbox"/>.</summary>
    public Task AddClientAsync(string clientId, string secret, string mailbox, Uri? redirectUri = null)
    {
        _mailboxes[clientId] = mailbox;
        var descriptor = new OpenIddictApplicationDescriptor
        {
            ClientId = clientId,
            ClientSecret = secret,
            ClientType = ClientTypes.Confidential,
        };
        AllowEverything(descriptor);
        if (redirectUri is not null)
        {
            descriptor.RedirectUris.Add(redirectUri);
        }

        return RegisterAsync(descriptor);
    }

    /// <summary>A confidential client that proves itself with a signed JWT (private_key_jwt, RFC
    /// 7523) instead of a secret: its JSON Web Key set holds the certificate's public key, as an
    /// Entra app registration holds an uploaded certificate.</summary>
    public Task AddCertificateClientAsync(string clientId, X509Certificate2 certificate, string mailbox)
    {
        _mailboxes[clientId] = mailbox;
        var key = Microsoft.IdentityModel.Tokens.JsonWebKeyConverter.ConvertFromX509SecurityKey(
            new Microsoft.IdentityModel.Tokens.X509SecurityKey(certificate), representAsRsaKey: true);
        var descriptor = new OpenIddictApplicationDescriptor
        {
            ClientId = clientId,
            ClientType = ClientTypes.Confidential,
            JsonWebKeySet = new Microsoft.IdentityModel.Tokens.JsonWebKeySet { Keys = { key } },
        };
        AllowEverything(descriptor);
        return RegisterAsync(descriptor);
    }

    /// <summary>A public client (no secret, as a Microsoft app registration that allows public
    /// client flows): it signs in with the device code and redeems its refresh tokens.</summary>
    public Task AddPublicClientAsync(string clientId, string mailbox)
    {
        _mailboxes[clientId] = mailbox;
        var descriptor = new OpenIddictApplicationDescriptor { ClientId = clientId, ClientType = ClientTypes.Public };
        AllowEverything(descriptor);
        descriptor.Permissions.Remove(Permissions.GrantTypes.ClientCredentials);
        return RegisterAsync(descriptor);
    }

    /// <summary>A relying party that signs people in (OpenID Connect): authorization requests of this
    /// client show the login page instead of the consent page. No secret makes a public client.</summary>
    public Task AddOpenIdClientAsync(string clientId, string? secret, Uri redirectUri)
    {
        _openIdClients[clientId] = true;
        var descriptor = new OpenIddictApplicationDescriptor
        {
            ClientId = clientId,
            ClientSecret = secret,
            ClientType = secret is null ? ClientTypes.Public : ClientTypes.Confidential,
            RedirectUris = { redirectUri },
        };
        AllowEverything(descriptor);
        descriptor.Permissions.Remove(Permissions.GrantTypes.ClientCredentials);
        return RegisterAsync(descriptor);
    }

    /// <summary>Someone who can sign in at the login page; their ID token carries these claims.</summary>
    public void AddPerson(TestPerson person)
    {
        ArgumentNullException.ThrowIfNull(person);
        _people[person.Subject] = person;
    }

    /// <summary>What a person's browser does with a sign-in's authorization URL at the login page:
    /// picks <paramref name="subject"/> and posts; the address it is sent back to (the client's
    /// redirect URI with the code and state).</summary>
    public async Task<Uri> LoginAsync(Uri authorizationUrl, string subject)
    {
        ArgumentNullException.ThrowIfNull(authorizationUrl);
        using var client = Browser();
        var page = await client.GetStringAsync(authorizationUrl);
        if (!page.Contains("<select id=\"login\" name=\"login\">", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"No login page at {authorizationUrl}: {page}");
        }

        var fields = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(authorizationUrl.Query).ToDictionary(p => p.Key, p => p.Value.ToString());
        fields["login"] = subject;
        using var form = new FormUrlEncodedContent(fields);
        using var response = await client.PostAsync(new Uri(authorizationUrl.GetLeftPart(UriPartial.Path)), form);
        return response.Headers.Location ?? throw new InvalidOperationException($"The login page answered {(int)response.StatusCode} without sending the browser back.");
    }

    /// <summary>What a browser does to sign <paramref name="subject"/> in to <paramref name="clientId"/>
    /// without the client's help: authorization request with PKCE, the login page posted, the code
    /// redeemed. The ID token the provider issued, to be shown to another client.</summary>
    public async Task<string> IdTokenAsync(string clientId, string? secret, Uri redirectUri, string subject)
    {
        var verifier = Base64Url(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var challenge = Base64Url(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(verifier)));
        var fields = new Dictionary<string, string>
        {
            ["client_id"] = clientId, ["redirect_uri"] = redirectUri.AbsoluteUri, ["response_type"] = "code", ["scope"] = "openid profile email",
            ["state"] = "s", ["nonce"] = "n", ["code_challenge"] = challenge, ["code_challenge_method"] = "S256", ["login"] = subject,
        };
        using var client = Browser();
        using (var login = new FormUrlEncodedContent(fields))
        using (var answer = await client.PostAsync(new Uri(AuthorizationEndpoint), login))
        {
            var back = answer.Headers.Location ?? throw new InvalidOperationException($"The login page answered {(int)answer.StatusCode}.");
            fields = new Dictionary<string, string>
            {
                ["grant_type"] = "authorization_code", ["client_id"] = clientId, ["redirect_uri"] = redirectUri.AbsoluteUri, ["code_verifier"] = verifier,
                ["code"] = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(back.Query)["code"].ToString(),
            };
        }

        if (secret is not null)
        {
            fields["client_secret"] = secret;
        }

        using var redeem = new FormUrlEncodedContent(fields);
        using var tokens = await client.PostAsync(new Uri(TokenEndpoint), redeem);
        var json = System.Text.Json.JsonDocument.Parse(await tokens.Content.ReadAsStringAsync());
        return json.RootElement.TryGetProperty("id_token", out var idToken)
            ? idToken.GetString()!
            : throw new InvalidOperationException($"The token endpoint answered {(int)tokens.StatusCode}: {json.RootElement}");
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>Allows a device's user code, as the person who signs in would at the verification
    /// page: the form posted with "Allow" (or "Deny" when <paramref name="allow"/> is false).</summary>
    public async Task VerifyAsync(string userCode, bool allow = true)
    {
        using var client = Browser();
        using var form = new FormUrlEncodedContent(new Dictionary<string, string> { ["user_code"] = userCode, ["consent"] = allow ? "allow" : "deny" });
        using var response = await client.PostAsync(new Uri(VerificationEndpoint), form);
        if ((int)response.StatusCode >= 400)
        {
            throw new InvalidOperationException($"The verification page answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }

    /// <summary>What a person's browser does with a sign-in's authorization URL: opens the consent
    /// page, clicks "Allow" (the page's form, posted with the request's parameters) and is sent
    /// back; the address it is sent back to (the redirect URI with the code and state).</summary>
    public async Task<Uri> ConsentAsync(Uri authorizationUrl)
    {
        using var client = Browser();
        var page = await client.GetStringAsync(authorizationUrl);
        if (!page.Contains("<button type=\"submit\" name=\"consent\" value=\"allow\">", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"No consent page at {authorizationUrl}: {page}");
        }

        var fields = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(authorizationUrl.Query)
            .ToDictionary(p => p.Key, p => p.Value.ToString());
        fields["consent"] = "allow";
        using var form = new FormUrlEncodedContent(fields);
        using var response = await client.PostAsync(new Uri(authorizationUrl.GetLeftPart(UriPartial.Path)), form);
        return response.Headers.Location ?? throw new InvalidOperationException($"The consent page answered {(int)response.StatusCode} without sending the browser back.");
    }

    /// <summary>Disables the client as an administrator would, by taking away every permission:
    /// its next token request gets <c>unauthorized_client</c>; the tokens it holds are revoked.</summary>
    public async Task DisableClientAsync(string clientId)
    {
        await RevokeTokensAsync(clientId);
        await using var scope = _app.Services.CreateAsyncScope();
        var applications = scope.ServiceProvider.GetRequiredService<IOpenIddictApplicationManager>();
        var application = await applications.FindByClientIdAsync(clientId) ?? throw new InvalidOperationException($"No client {clientId}.");
        var descriptor = new OpenIddictApplicationDescriptor();
        await applications.PopulateAsync(descriptor, application);
        descriptor.Permissions.Clear();
        await applications.UpdateAsync(application, descriptor);
    }

    /// <summary>Revokes every token issued to the client: introspection calls them inactive.</summary>
    public async Task RevokeTokensAsync(string clientId)
    {
        await using var scope = _app.Services.CreateAsyncScope();
        var applications = scope.ServiceProvider.GetRequiredService<IOpenIddictApplicationManager>();
        var tokens = scope.ServiceProvider.GetRequiredService<IOpenIddictTokenManager>();
        var application = await applications.FindByClientIdAsync(clientId) ?? throw new InvalidOperationException($"No client {clientId}.");
        var id = await applications.GetIdAsync(application);
        await foreach (var token in tokens.FindByApplicationIdAsync(id!))
        {
            await tokens.TryRevokeAsync(token);
        }
    }

    /// <summary>A person's browser, trusting this server's certificate, that shows where it is sent rather than going.</summary>
    private HttpClient Browser() => new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        SslOptions = { RemoteCertificateValidationCallback = (_, presented, _, _) => Tls is null || presented?.GetCertHashString() == Tls.GetCertHashString() },
    });

    private static void AllowEverything(OpenIddictApplicationDescriptor descriptor)
    {
        foreach (var permission in new[]
        {
            Permissions.Endpoints.Token, Permissions.Endpoints.Authorization, Permissions.Endpoints.DeviceAuthorization,
            Permissions.GrantTypes.ClientCredentials, Permissions.GrantTypes.RefreshToken, Permissions.GrantTypes.AuthorizationCode,
            Permissions.GrantTypes.DeviceCode, Permissions.ResponseTypes.Code,
        })
        {
            descriptor.Permissions.Add(permission);
        }
    }

    private async Task RegisterAsync(OpenIddictApplicationDescriptor descriptor)
    {
        await using var scope = _app.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<IOpenIddictApplicationManager>().CreateAsync(descriptor);
    }

    private async Task<IResult> TokenAsync(HttpContext context)
    {
        var request = context.GetOpenIddictServerRequest() ?? throw new InvalidOperationException("Not an OpenID Connect request.");
        ClaimsIdentity identity;
        if (request.IsClientCredentialsGrantType())
        {
            identity = Identity(request.ClientId!, _mailboxes[request.ClientId!]);
            identity.SetScopes(request.GetScopes());
        }
        else
        {
            // Authorization code or refresh token: OpenIddict validated it; the grant's claims carry on.
            var granted = await context.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
            var principal = granted.Principal ?? throw new InvalidOperationException("No principal in a validated grant.");
            identity = _people.TryGetValue(principal.GetClaim(Claims.Subject)!, out var person) && principal.HasScope(OpenIddictConstants.Scopes.OpenId)
                ? PersonIdentity(person)
                : Identity(principal.GetClaim(Claims.Subject)!, principal.GetClaim(Claims.Email)!);
            identity.SetScopes(principal.GetScopes());
        }

        return Results.SignIn(new ClaimsPrincipal(identity), properties: null, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    /// <summary>The consent page: a form the person approves; the code it leads to carries the mailbox.</summary>
    private async Task<IResult> AuthorizeAsync(HttpContext context)
    {
        var request = context.GetOpenIddictServerRequest() ?? throw new InvalidOperationException("Not an OpenID Connect request.");
        if (_openIdClients.ContainsKey(request.ClientId ?? ""))
        {
            return LoginPage(context, request);
        }

        var mailbox = _mailboxes.GetValueOrDefault(request.ClientId ?? "", "");
        if (!HttpMethods.IsPost(context.Request.Method) || !context.Request.HasFormContentType || context.Request.Form["consent"] != "allow")
        {
            var fields = string.Concat(request.GetParameters().Select(p =>
                $"<input type=\"hidden\" name=\"{WebUtility.HtmlEncode(p.Key)}\" value=\"{WebUtility.HtmlEncode((string?)p.Value)}\">"));
            var page = $"""
                <!doctype html><html><head><title>Test authorization server</title></head><body>
                <h1>Allow {WebUtility.HtmlEncode(request.ClientId)} to send mail as {WebUtility.HtmlEncode(mailbox)}?</h1>
                <form method="post">{fields}<button type="submit" name="consent" value="allow">Allow</button></form>
                </body></html>
                """;
            await Task.CompletedTask;
            return Results.Content(page, "text/html");
        }

        var identity = Identity(mailbox, mailbox);
        identity.SetScopes(request.GetScopes());
        return Results.SignIn(new ClaimsPrincipal(identity), properties: null, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    /// <summary>The provider's login page: the browser picks who signs in (the test's people); the
    /// code it leads to carries that person.</summary>
    private IResult LoginPage(HttpContext context, OpenIddictRequest request)
    {
        var chosen = HttpMethods.IsPost(context.Request.Method) && context.Request.HasFormContentType ? context.Request.Form["login"].ToString() : "";
        if (!_people.TryGetValue(chosen, out var person))
        {
            var fields = string.Concat(request.GetParameters().Where(p => p.Key != "login").Select(p =>
                $"<input type=\"hidden\" name=\"{WebUtility.HtmlEncode(p.Key)}\" value=\"{WebUtility.HtmlEncode((string?)p.Value)}\">"));
            var options = string.Concat(_people.Values.OrderBy(p => p.Subject, StringComparer.Ordinal).Select(p =>
                $"<option value=\"{WebUtility.HtmlEncode(p.Subject)}\">{WebUtility.HtmlEncode(p.Name)} ({WebUtility.HtmlEncode(p.Email)})</option>"));
            return Results.Content($"""
                <!doctype html><html><head><title>Test identity provider</title></head><body>
                <h1>Sign in to {WebUtility.HtmlEncode(request.ClientId)}</h1>
                <form method="post">{fields}<label for="login">Account</label><select id="login" name="login">{options}</select>
                <button type="submit">Sign in</button></form>
                </body></html>
                """, "text/html");
        }

        var identity = PersonIdentity(person);
        identity.SetScopes(request.GetScopes());
        return Results.SignIn(new ClaimsPrincipal(identity), properties: null, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    /// <summary>A person's claims, in the ID token (and the access token).</summary>
    private static ClaimsIdentity PersonIdentity(TestPerson person)
    {
        var identity = new ClaimsIdentity(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme, Claims.Name, Claims.Role);
        identity.SetClaim(Claims.Subject, person.Subject);
        identity.SetClaim(Claims.Email, person.Email);
        identity.SetClaim(Claims.Name, person.Name);
        identity.SetClaim(Claims.PreferredUsername, person.Email);
        identity.SetClaims("groups", [.. person.Groups]);
        identity.SetDestinations(_ => [Destinations.AccessToken, Destinations.IdentityToken]);
        return identity;
    }

    /// <summary>The verification page of the device flow: the user code the person entered, checked
    /// by OpenIddict; "Allow" grants the device the client's mailbox, "Deny" refuses it.</summary>
    private async Task<IResult> VerificationPageAsync(HttpContext context)
    {
        var entered = await context.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
        if (entered.Principal?.GetClaim(Claims.ClientId) is not { } clientId || !HttpMethods.IsPost(context.Request.Method))
        {
            return Results.Content("""
                <!doctype html><html><head><title>Test authorization server</title></head><body>
                <form method="post"><input name="user_code">
                <button type="submit" name="consent" value="allow">Allow</button><button type="submit" name="consent" value="deny">Deny</button></form>
                </body></html>
                """, "text/html");
        }

        var properties = new AuthenticationProperties { RedirectUri = "/" };
        if (context.Request.Form["consent"] != "allow")
        {
            return Results.Forbid(properties, [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
        }

        var mailbox = _mailboxes.GetValueOrDefault(clientId, "");
        var identity = Identity(mailbox, mailbox);
        identity.SetScopes(entered.Principal.GetScopes());
        return Results.SignIn(new ClaimsPrincipal(identity), properties, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    private static ClaimsIdentity Identity(string subject, string mailbox)
    {
        var identity = new ClaimsIdentity(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme, Claims.Name, Claims.Role);
        identity.SetClaim(Claims.Subject, subject);
        identity.SetClaim(Claims.Email, mailbox);
        identity.SetClaim(Claims.PreferredUsername, mailbox);
        identity.SetAudiences(Introspector);
        // Who signed in goes into the ID token too (MSAL reads it there), when one was asked for.
        identity.SetDestinations(claim => claim.Type == Claims.PreferredUsername ? [Destinations.AccessToken, Destinations.IdentityToken] : [Destinations.AccessToken]);
        return identity;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>A person of the test identity provider: <see cref="Subject"/> is the <c>sub</c> claim.</summary>
public sealed record TestPerson(string Subject, string Email, string Name, params string[] Groups);
