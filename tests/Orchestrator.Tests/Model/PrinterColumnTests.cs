using Orchestrator.Grains.Kinds.Printing;
using Orchestrator.Model;

namespace Orchestrator.Tests.Model;

/// <summary>The cells kubectl get prints, computed as Kubernetes' printers compute them.</summary>
public sealed class PrinterColumnTests
{
    [Theory]
    [InlineData(-5, "<invalid>")]
    [InlineData(-1, "0s")]
    [InlineData(59, "59s")]
    [InlineData(119, "119s")]
    [InlineData(120, "2m")]
    [InlineData(150, "2m30s")]
    [InlineData(600, "10m")]
    [InlineData(3 * 3600, "3h")]
    [InlineData(3 * 3600 + 1800, "3h30m")]
    [InlineData(30 * 3600, "30h")]
    [InlineData(3 * 86400 + 7200, "3d2h")]
    [InlineData(30 * 86400, "30d")]
    [InlineData(3 * 365 * 86400 + 86400, "3y1d")]
    public void AgesReadAsKubernetesHumanDuration(int seconds, string expected) =>
        Assert.Equal(expected, Durations.Human(TimeSpan.FromSeconds(seconds)));

    [Fact]
    public void PodStatusIsTheWaitingReasonThenTerminating()
    {
        var crashing = new Pod
        {
            Status = new PodStatus
            {
                Phase = PodPhase.Running,
                ContainerStatuses = [new ContainerStatus { Name = "main", State = new ContainerState { Waiting = new ContainerStateWaiting { Reason = "CrashLoopBackOff" } } }],
            },
        };
        var exited = crashing with { Status = crashing.Status with { ContainerStatuses = [new ContainerStatus { Name = "main", State = new ContainerState { Terminated = new ContainerStateTerminated { ExitCode = 3 } } }] } };

        Assert.Equal("CrashLoopBackOff", PodColumns.Status(crashing));
        Assert.Equal("ExitCode:3", PodColumns.Status(exited));
        Assert.Equal("Terminating", PodColumns.Status(crashing with { Metadata = new ObjectMeta { DeletionTimestamp = DateTimeOffset.UnixEpoch } }));
        Assert.Equal("Pending", PodColumns.Status(new Pod { Status = new PodStatus { Phase = PodPhase.Pending } }));
    }

    [Fact]
    public void RestartsSayWhenTheLastContainerEnded()
    {
        var now = DateTimeOffset.UnixEpoch.AddDays(1);
        var pod = new Pod
        {
            Spec = new PodSpec { Containers = [new Container { Name = "main" }] },
            Status = new PodStatus
            {
                Phase = PodPhase.Running,
                ContainerStatuses =
                [
                    new ContainerStatus
                    {
                        Name = "main",
                        Ready = true,
                        RestartCount = 2,
                        State = new ContainerState { Running = new ContainerStateRunning() },
                        LastState = new ContainerState { Terminated = new ContainerStateTerminated { FinishedAt = now.AddMinutes(-5) } },
                    },
                ],
            },
        };

        var cells = PodColumns.All.Where(c => c.Priority == 0).Select(c => c.Cell(pod, now)).ToList();

        Assert.Equal(["", "1/1", "Running", "2 (5m ago)", "<unknown>"], cells);
    }
}
