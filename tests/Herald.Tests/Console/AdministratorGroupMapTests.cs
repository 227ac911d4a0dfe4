using System.ComponentModel.DataAnnotations;
using Herald.Scopes;
using Herald.Web.Console.OpenIdConnect;

namespace Herald.Tests.Console;

/// <summary>The rule that turns a token's groups into a console scope, as a pure function (its
/// integration twin: IntegrationTests SignIn/SingleSignOnTests, through the real handler).</summary>
public sealed class AdministratorGroupMapTests
{
    private static readonly AdministratorGroupMap Map = AdministratorGroupMap.Parse(
        ["/hr=herald-admins-hr", "/hr/payroll=payroll-admins", "/finance=herald-admins-finance", "/=farm-admins", "/hr=CN=HR Admins,OU=Groups,DC=example,DC=org"]).Map!;

    [Fact]
    public void No_mapped_group_is_not_an_administrator()
    {
        Assert.IsType<AdministratorDecision.NotAnAdministrator>(Map.Decide(["staff", "everyone"]));
        Assert.IsType<AdministratorDecision.NotAnAdministrator>(Map.Decide([]));
    }

    [Fact]
    public void One_mapped_group_gives_its_scope()
    {
        var decision = Assert.IsType<AdministratorDecision.Administrator>(Map.Decide(["staff", "herald-admins-hr"]));

        Assert.Equal(ScopePath.Parse("/hr"), decision.Scope);
        Assert.Equal("herald-admins-hr", decision.Group);
    }

    [Fact]
    public void A_scope_and_one_below_it_give_the_higher_one()
    {
        var decision = Assert.IsType<AdministratorDecision.Administrator>(Map.Decide(["payroll-admins", "herald-admins-hr"]));

        Assert.Equal(ScopePath.Parse("/hr"), decision.Scope);
    }

    [Fact]
    public void Root_contains_every_other_scope()
    {
        var decision = Assert.IsType<AdministratorDecision.Administrator>(Map.Decide(["herald-admins-finance", "farm-admins", "herald-admins-hr"]));

        Assert.Equal(ScopePath.Root, decision.Scope);
        Assert.Equal("farm-admins", decision.Group);
    }

    [Fact]
    public void Unrelated_scopes_are_refused_with_both_named()
    {
        var decision = Assert.IsType<AdministratorDecision.Unrelated>(Map.Decide(["herald-admins-hr", "herald-admins-finance"]));

        Assert.Equal([ScopePath.Parse("/finance"), ScopePath.Parse("/hr")], decision.Scopes);
        Assert.StartsWith("Your groups make you an administrator of /finance and /hr", decision.Sentence, StringComparison.Ordinal);
    }

    [Fact]
    public void Values_are_compared_exactly()
    {
        Assert.IsType<AdministratorDecision.NotAnAdministrator>(Map.Decide(["Herald-Admins-HR", "herald-admins-hr ", "herald-admins"]));
    }

    [Fact]
    public void A_value_may_hold_an_equals_sign()
    {
        var decision = Assert.IsType<AdministratorDecision.Administrator>(Map.Decide(["CN=HR Admins,OU=Groups,DC=example,DC=org"]));

        Assert.Equal(ScopePath.Parse("/hr"), decision.Scope);
    }

    [Fact]
    public void A_lookalike_scope_is_not_below_another()
    {
        var map = AdministratorGroupMap.Parse(["/hr=a", "/hr2=b"]).Map!;

        Assert.IsType<AdministratorDecision.Unrelated>(map.Decide(["a", "b"]));
    }

    [Fact]
    public void Grants_holds_only_for_the_group_and_scope_still_mapped()
    {
        Assert.True(Map.Grants("herald-admins-hr", ScopePath.Parse("/hr")));
        Assert.False(Map.Grants("herald-admins-hr", ScopePath.Root));
        Assert.False(Map.Grants("herald-admins-hr", ScopePath.Parse("/hr/payroll")));
        Assert.False(Map.Grants("staff", ScopePath.Parse("/hr")));
    }

    [Theory]
    [InlineData("hr=herald-admins-hr", "item 0 names a scope Herald cannot read ('hr')")]
    [InlineData("/hr", "item 0 is not SCOPE=VALUE")]
    [InlineData("/hr=", "item 0 is not SCOPE=VALUE")]
    [InlineData("=herald-admins-hr", "item 0 is not SCOPE=VALUE")]
    [InlineData("/hr= ", "item 0 has an empty value")]
    public void An_unreadable_item_is_named(string item, string error)
    {
        var (map, problem) = AdministratorGroupMap.Parse([item]);

        Assert.Null(map);
        Assert.StartsWith(error, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_name_each_missing_setting_when_enabled_and_nothing_when_disabled()
    {
        var enabled = new SingleSignOnOptions { Enabled = true, AdministratorGroups = ["finance"], UserClaim = "upn", Scopes = ["profile"] };
        var problems = enabled.Validate(new ValidationContext(enabled)).Select(r => r.ErrorMessage!).ToList();

        Assert.Contains(problems, p => p.StartsWith("OpenIdConnect:Authority (HERALD_OpenIdConnect__Authority) is required", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("OpenIdConnect:ClientId (HERALD_OpenIdConnect__ClientId) is required", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("OpenIdConnect:AdministratorGroups (HERALD_OpenIdConnect__AdministratorGroups) item 0", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("OpenIdConnect:UserClaim (HERALD_OpenIdConnect__UserClaim) must be one of email, oid, sub, preferred_username", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("OpenIdConnect:Scopes (HERALD_OpenIdConnect__Scopes) must include openid", StringComparison.Ordinal));
        var disabled = new SingleSignOnOptions { AdministratorGroups = ["finance"] };
        Assert.Empty(disabled.Validate(new ValidationContext(disabled)));
    }

    [Theory]
    [InlineData("http://login.example.org/")]
    [InlineData("ftp://127.0.0.1/")]
    [InlineData("login.example.org")]
    public void An_authority_must_be_https_except_on_loopback(string authority)
    {
        var options = new SingleSignOnOptions { Enabled = true, Authority = authority, ClientId = "herald" };

        var problem = Assert.Single(options.Validate(new ValidationContext(options)));

        Assert.StartsWith("OpenIdConnect:Authority (HERALD_OpenIdConnect__Authority) must be an https:// URL", problem.ErrorMessage, StringComparison.Ordinal);
    }
}
