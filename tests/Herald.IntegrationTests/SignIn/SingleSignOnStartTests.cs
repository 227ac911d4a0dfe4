using Herald.IntegrationTests.Fixtures;
using Herald.Testing;

namespace Herald.IntegrationTests.SignIn;

/// <summary>A real <c>herald serve</c> refuses to start with single sign-on configured wrongly,
/// naming the setting, and never printing the client secret.</summary>
public sealed class SingleSignOnStartTests : IDisposable
{
    private const string Secret = "a client secret nobody may read";

    private readonly HeraldCommandLine _herald = new();

    public static TheoryData<string, string, string> Wrong => new()
    {
        { "HERALD_OpenIdConnect__Authority", "", "OpenIdConnect:Authority (HERALD_OpenIdConnect__Authority) is required when OpenIdConnect:Enabled is true" },
        { "HERALD_OpenIdConnect__ClientId", "", "OpenIdConnect:ClientId (HERALD_OpenIdConnect__ClientId) is required when OpenIdConnect:Enabled is true" },
        { "HERALD_OpenIdConnect__AdministratorGroups__0", "hr=herald-admins-hr", "OpenIdConnect:AdministratorGroups (HERALD_OpenIdConnect__AdministratorGroups) item 0 names a scope Herald cannot read ('hr')" },
        { "HERALD_OpenIdConnect__AdministratorGroups__0", "/hr", "OpenIdConnect:AdministratorGroups (HERALD_OpenIdConnect__AdministratorGroups) item 0 is not SCOPE=VALUE" },
    };

    [Theory]
    [MemberData(nameof(Wrong))]
    public async Task Serve_refuses_to_start_with_single_sign_on_misconfigured_and_names_the_setting(string variable, string value, string sentence)
    {
        var environment = new Dictionary<string, string>
        {
            ["HERALD_OpenIdConnect__Enabled"] = "true",
            ["HERALD_OpenIdConnect__Authority"] = "https://login.example.org/tenant/v2.0",
            ["HERALD_OpenIdConnect__ClientId"] = "herald",
            ["HERALD_OpenIdConnect__ClientSecret"] = Secret,
            [variable] = value,
        };
        await using var serve = HeraldServer.Launch(_herald.DataDirectory, environment);

        Assert.True(serve.Process.WaitForExit(TimeSpan.FromSeconds(60)), "serve started with single sign-on misconfigured");

        Assert.NotEqual(0, serve.Process.ExitCode);
        Assert.Contains("herald: A setting is not valid: ", serve.Output, StringComparison.Ordinal);
        Assert.Contains(sentence, serve.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, serve.Output, StringComparison.Ordinal);
    }

    public void Dispose() => _herald.Dispose();
}
