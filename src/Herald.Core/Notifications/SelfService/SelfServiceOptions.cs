using System.ComponentModel.DataAnnotations;

namespace Herald.Notifications.SelfService;

/// <summary>How directory users reach their own page; configuration section <c>SelfService</c>
/// (e.g. <c>HERALD_SelfService__ManageLinkLifetime=14.00:00:00</c>).</summary>
public sealed class SelfServiceOptions : IValidatableObject
{
    public const string Section = "SelfService";

    /// <summary>How long the "Manage your alerts" link in a notification or digest works.</summary>
    public TimeSpan ManageLinkLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How long an emailed sign-in link works (once).</summary>
    public TimeSpan SignInLinkLifetime { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Sign-in links asked for one address within <see cref="SignInLimitWindow"/>, by
    /// anyone: more are refused, whether or not the address is a user's.</summary>
    [Range(1, 100)]
    public int SignInLinksPerAddress { get; set; } = 3;

    /// <summary>Sign-in links asked from one client address within <see cref="SignInLimitWindow"/>.</summary>
    [Range(1, 10_000)]
    public int SignInLinksPerClient { get; set; } = 10;

    /// <summary>The window both sign-in link limits count in.</summary>
    public TimeSpan SignInLimitWindow { get; set; } = TimeSpan.FromHours(1);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (ManageLinkLifetime < TimeSpan.FromHours(1) || ManageLinkLifetime > TimeSpan.FromDays(365))
        {
            yield return new ValidationResult("SelfService:ManageLinkLifetime must be between 1 hour and 365 days.", [nameof(ManageLinkLifetime)]);
        }

        if (SignInLinkLifetime < TimeSpan.FromMinutes(1) || SignInLinkLifetime > TimeSpan.FromHours(24))
        {
            yield return new ValidationResult("SelfService:SignInLinkLifetime must be between 1 minute and 24 hours.", [nameof(SignInLinkLifetime)]);
        }

        if (SignInLimitWindow < TimeSpan.FromMinutes(1) || SignInLimitWindow > TimeSpan.FromDays(1))
        {
            yield return new ValidationResult("SelfService:SignInLimitWindow must be between 1 minute and 1 day.", [nameof(SignInLimitWindow)]);
        }
    }
}
