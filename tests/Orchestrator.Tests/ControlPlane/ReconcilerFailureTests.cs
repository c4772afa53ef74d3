using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Orchestrator.Model;
using Orchestrator.Serialization;
using Orchestrator.Tests.Infrastructure;
using Orleans.Runtime;
using Orleans.Timers;

namespace Orchestrator.Tests.ControlPlane;

/// <summary>
/// A controller whose object was stored while the cluster could not take its reminder (the
/// reminder service's silo had just died: seen in the compose test) still reconciles, and gets
/// its reminder once the reminder service answers again. A control plane of its own, because the
/// reminder registry is replaced by one that fails on demand.
/// </summary>
public sealed class ReconcilerFailureTests : IAsyncLifetime
{
    private readonly FailingReminderRegistry.Switch _failures = new();
    private ControlPlaneFixture _cp = null!;

    public async Task InitializeAsync()
    {
        _cp = new ControlPlaneFixture([], services => FailingReminderRegistry.Install(services, _failures));
        await _cp.InitializeAsync();
    }

    public Task DisposeAsync() => _cp.DisposeAsync();

    [Fact]
    public async Task AnObjectWhoseReminderCannotBeRegisteredYetStillReconciles()
    {
        var ns = await _cp.NewNamespaceAsync();
        var grain = $"replicaset/{ns}/rs";
        _failures.FailNext(grain, 5);

        using var response = await _cp.Api.SendAsync(HttpMethod.Post, $"/apis/apps/v1/namespaces/{ns}/replicasets", ResourceJson.SerializeToString(Manifests.ReplicaSet("rs", 2)));
        Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);

        // The pods do not wait for the reminder: a pass runs first and confirms it after.
        await Eventually.True(async () => (await _cp.Api.ListAsync<Pod>($"/api/v1/namespaces/{ns}/pods")).Count == 2, "the replica set's 2 pods");
        await Eventually.True(() => Task.FromResult(_failures.IsRegistered(grain)), "the reminder to be registered");
        Assert.Equal(0, _failures.Remaining(grain));
    }

    /// <summary>The silo's reminder registry, failing the next N calls for a grain as a call to a
    /// reminder service on a dead silo does.</summary>
    private sealed class FailingReminderRegistry(IReminderRegistry inner, FailingReminderRegistry.Switch failures) : IReminderRegistry
    {
        public sealed class Switch
        {
            private readonly ConcurrentDictionary<string, int> _remaining = new();
            private readonly ConcurrentDictionary<string, bool> _registered = new();

            public void FailNext(string grain, int calls) => _remaining[grain] = calls;

            public int Remaining(string grain) => _remaining.GetValueOrDefault(grain);

            public bool IsRegistered(string grain) => _registered.ContainsKey(grain);

            internal void Check(GrainId grain)
            {
                var key = grain.ToString();
                if (_remaining.TryGetValue(key, out var left) && left > 0 && _remaining.TryUpdate(key, left - 1, left))
                {
                    throw new SiloUnavailableException($"(test) the reminder service of {key} is unavailable");
                }
            }

            internal void Registered(GrainId grain) => _registered[grain.ToString()] = true;
        }

        public static void Install(IServiceCollection services, Switch failures)
        {
            var original = services.Last(d => d.ServiceType == typeof(IReminderRegistry));
            services.Remove(original);
            services.AddSingleton<IReminderRegistry>(sp => new FailingReminderRegistry(Create(sp, original), failures));
        }

        private static IReminderRegistry Create(IServiceProvider sp, ServiceDescriptor d) =>
            (IReminderRegistry)(d.ImplementationInstance
                ?? d.ImplementationFactory?.Invoke(sp)
                ?? ActivatorUtilities.CreateInstance(sp, d.ImplementationType!));

        public Task<IGrainReminder> RegisterOrUpdateReminder(GrainId callingGrainId, string reminderName, TimeSpan dueTime, TimeSpan period) =>
            RegisterOrUpdateReminder(callingGrainId, reminderName, dueTime, period, CancellationToken.None);

        public async Task<IGrainReminder> RegisterOrUpdateReminder(GrainId callingGrainId, string reminderName, TimeSpan dueTime, TimeSpan period, CancellationToken cancellationToken)
        {
            failures.Check(callingGrainId);
            var reminder = await inner.RegisterOrUpdateReminder(callingGrainId, reminderName, dueTime, period, cancellationToken);
            failures.Registered(callingGrainId);
            return reminder;
        }

        public Task UnregisterReminder(GrainId callingGrainId, IGrainReminder reminder) =>
            UnregisterReminder(callingGrainId, reminder, CancellationToken.None);

        public Task UnregisterReminder(GrainId callingGrainId, IGrainReminder reminder, CancellationToken cancellationToken)
        {
            failures.Check(callingGrainId);
            return inner.UnregisterReminder(callingGrainId, reminder, cancellationToken);
        }

        public Task<IGrainReminder?> GetReminder(GrainId callingGrainId, string reminderName) =>
            GetReminder(callingGrainId, reminderName, CancellationToken.None);

        public Task<IGrainReminder?> GetReminder(GrainId callingGrainId, string reminderName, CancellationToken cancellationToken)
        {
            failures.Check(callingGrainId);
            return inner.GetReminder(callingGrainId, reminderName, cancellationToken);
        }

        public Task<List<IGrainReminder>> GetReminders(GrainId callingGrainId) =>
            GetReminders(callingGrainId, CancellationToken.None);

        public Task<List<IGrainReminder>> GetReminders(GrainId callingGrainId, CancellationToken cancellationToken)
        {
            failures.Check(callingGrainId);
            return inner.GetReminders(callingGrainId, cancellationToken);
        }
    }
}
