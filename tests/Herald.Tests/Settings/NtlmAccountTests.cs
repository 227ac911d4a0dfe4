using Herald.Settings;

namespace Herald.Tests.Settings;

public sealed class NtlmAccountTests
{
    [Theory]
    [InlineData(@"CORP\mailer", "CORP", "mailer")]
    [InlineData("mailer@corp.example.com", "corp.example.com", "mailer")]
    [InlineData("mailer", "", "mailer")]
    [InlineData(@"corp.example.com\svc.mail", "corp.example.com", "svc.mail")]
    public void Down_level_names_and_user_principal_names_split_into_domain_and_user(string written, string domain, string user)
    {
        Assert.True(NtlmAccount.TryParse(written, out var account, out var error), error);
        Assert.Equal(new NtlmAccount(domain, user), account);
    }

    [Theory]
    [InlineData(@"\mailer")]
    [InlineData(@"CORP\")]
    [InlineData(@"CORP\a\b")]
    [InlineData(@"CORP\mailer@corp.example.com")]
    [InlineData("@corp.example.com")]
    [InlineData("mailer@")]
    [InlineData("a@b@c")]
    [InlineData("  ")]
    public void Names_that_say_neither_form_are_refused_with_the_forms(string written)
    {
        Assert.False(NtlmAccount.TryParse(written, out _, out var error));
        Assert.Contains(@"DOMAIN\user or user@domain", error, StringComparison.Ordinal);
    }
}
