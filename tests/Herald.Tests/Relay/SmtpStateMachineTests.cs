using Herald.Relay;

namespace Herald.Tests.Relay;

public sealed class SmtpStateMachineTests
{
    [Theory]
    [InlineData("Connected", "Ehlo", "Greeted")]
    [InlineData("RecipientsGiven", "Helo", "Greeted")]
    [InlineData("Greeted", "Mail", "MailGiven")]
    [InlineData("MailGiven", "Rcpt", "RecipientsGiven")]
    [InlineData("RecipientsGiven", "Rcpt", "RecipientsGiven")]
    [InlineData("RecipientsGiven", "Data", "Greeted")]
    [InlineData("RecipientsGiven", "Rset", "Greeted")]
    [InlineData("Connected", "Rset", "Connected")]
    [InlineData("Greeted", "StartTls", "Connected")]
    [InlineData("Greeted", "Auth", "Greeted")]
    [InlineData("MailGiven", "Noop", "MailGiven")]
    public void Legal_command_leads_to_the_table_state(string from, string verb, string expected) =>
        Assert.Equal(Enum.Parse<SmtpState>(expected), SmtpStateMachine.Next(Enum.Parse<SmtpState>(from), Enum.Parse<SmtpVerb>(verb)));

    [Theory]
    [InlineData("Connected", "Mail")]
    [InlineData("Greeted", "Rcpt")]
    [InlineData("MailGiven", "Data")]
    [InlineData("MailGiven", "Mail")]
    [InlineData("Connected", "StartTls")]
    [InlineData("MailGiven", "StartTls")]
    [InlineData("Connected", "Auth")]
    [InlineData("MailGiven", "Auth")]
    public void Command_out_of_sequence_is_illegal_and_answered_503(string from, string verb)
    {
        var command = Enum.Parse<SmtpVerb>(verb);

        Assert.Null(SmtpStateMachine.Next(Enum.Parse<SmtpState>(from), command));
        Assert.Equal((503, "5.5.1"), (SmtpStateMachine.SequenceError(command).Code, SmtpStateMachine.SequenceError(command).EnhancedCode));
    }

    [Theory]
    [InlineData("Ehlo", "Refused")]
    [InlineData("Data", "Refused")]
    [InlineData("Auth", "Refused")]
    [InlineData("StartTls", "Discarded")]
    [InlineData("Mail", "Allowed")]
    [InlineData("Rcpt", "Allowed")]
    public void Commands_that_must_end_a_pipelined_group_are_marked(string verb, string expected) =>
        Assert.Equal(Enum.Parse<PipelinedInput>(expected), SmtpStateMachine.PipelinedAfter(Enum.Parse<SmtpVerb>(verb)));
}
